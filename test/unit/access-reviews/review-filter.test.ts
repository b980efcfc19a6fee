import { describe, expect, it } from 'vitest';
import { readConfig } from '../../../src/config.js';
import { parseReviewFilter } from '../../../src/modules/access-reviews/access-review-filter.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const ID = '2b0e8f5c-4a7d-4f3e-9c1b-0d2e3f4a5b6c';

describe('access review filter', () => {
  it('should resolve olderThanSeconds to the instant before which grants were created', () => {
    expect(
      parseReviewFilter({ identityId: ID.toUpperCase(), olderThanSeconds: 3600 }, NOW),
    ).toEqual({
      scope: null,
      identityId: ID,
      createdBefore: '2026-11-28T11:00:00.000Z',
      olderThanSeconds: 3600,
    });
  });

  it('should refuse an empty filter, both ages, a future instant and a malformed scope', () => {
    expect(() => parseReviewFilter({}, NOW)).toThrow('at least one filter criterion');
    expect(() =>
      parseReviewFilter({ olderThanSeconds: 1, createdBefore: new Date(NOW - 1) }, NOW),
    ).toThrow('not both');
    expect(() => parseReviewFilter({ createdBefore: new Date(NOW + 1000) }, NOW)).toThrow(
      'is in the future',
    );
    expect(() => parseReviewFilter({ olderThanSeconds: 1.5 }, NOW)).toThrow('whole number');
    expect(() => parseReviewFilter({ scope: 'Orders' }, NOW)).toThrow('not a valid scope name');
  });
});

describe('access review configuration', () => {
  it('should read ACCESS_REVIEW_POLL_MS, defaulting to a minute', () => {
    expect(readConfig({}).accessReviews).toEqual({ pollMs: 60_000 });
    expect(readConfig({ ACCESS_REVIEW_POLL_MS: '5000' }).accessReviews).toEqual({ pollMs: 5000 });
    expect(() => readConfig({ ACCESS_REVIEW_POLL_MS: '10' })).toThrow('ACCESS_REVIEW_POLL_MS');
  });
});

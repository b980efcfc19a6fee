import { describe, expect, it } from 'vitest';
import { parseEqualityFilter } from '../../../../src/server/scim/scim-filter.js';

const USERS = ['userName', 'externalId', 'id'] as const;

describe('parseEqualityFilter', () => {
  it('should read the equality filters identity providers send, attribute names in any case', () => {
    expect(parseEqualityFilter('userName eq "bjensen@example.com"', USERS)).toEqual({
      attribute: 'userName',
      value: 'bjensen@example.com',
    });
    expect(parseEqualityFilter('EXTERNALID eq "00u1"', USERS)).toEqual({
      attribute: 'externalId',
      value: '00u1',
    });
    expect(parseEqualityFilter(null, USERS)).toBeNull();
  });

  it('should refuse anything else with 400 invalidFilter', () => {
    for (const filter of [
      'userName eq',
      'userName co "b"',
      'title eq "x"',
      'userName eq 3',
      'userName eq "a" or userName eq "b"',
      'not (userName eq "a")',
      '',
    ]) {
      expect(() => parseEqualityFilter(filter, USERS), filter).toThrow(
        expect.objectContaining({ status: 400, scimType: 'invalidFilter' }),
      );
    }
  });
});

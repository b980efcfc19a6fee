import { describe, expect, it } from 'vitest';
import { ChangeJournal, parseTouched } from '../../../src/modules/revision/change-journal.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('the change journal', () => {
  it("should read a row's touched identities, nothing, or anything", () => {
    expect(parseTouched(`${A},${B},`)).toEqual(new Set([A, B]));
    expect(parseTouched('')).toEqual(new Set());
    expect(parseTouched('*')).toBeNull();
    expect(parseTouched(null)).toBeNull();
  });

  it('should carry across a chain of changes that touched none of the identities', () => {
    const journal = new ChangeJournal();
    journal.record({ revision: '5', from: '3', touched: new Set([B]) });
    journal.record({ revision: '8', from: '5', touched: new Set() });

    expect(journal.untouched('3', '8', new Set([A]))).toBe(true);
    expect(journal.untouched('5', '8', new Set([A, B]))).toBe(true);
    expect(journal.untouched('8', '8', new Set([A]))).toBe(true);
  });

  it('should not carry across a change that touched one of the identities', () => {
    const journal = new ChangeJournal();
    journal.record({ revision: '5', from: '3', touched: new Set([B]) });
    journal.record({ revision: '8', from: '5', touched: new Set() });

    expect(journal.untouched('3', '8', new Set([A, B]))).toBe(false);
  });

  it('should not carry across a change that touched more than identities', () => {
    const journal = new ChangeJournal();
    journal.record({ revision: '5', from: '3', touched: null });

    expect(journal.untouched('3', '5', new Set([A]))).toBe(false);
  });

  it('should not carry across a change it was not told of', () => {
    const journal = new ChangeJournal();
    journal.record({ revision: '5', from: '3', touched: new Set() });
    journal.record({ revision: '9', from: '7', touched: new Set() });

    expect(journal.untouched('3', '9', new Set([A]))).toBe(false);
    expect(journal.untouched('4', '5', new Set([A]))).toBe(false);
  });

  it('should forget the oldest changes beyond its size', () => {
    const journal = new ChangeJournal(2);
    journal.record({ revision: '2', from: '1', touched: new Set() });
    journal.record({ revision: '3', from: '2', touched: new Set() });
    journal.record({ revision: '4', from: '3', touched: new Set() });

    expect(journal.untouched('1', '4', new Set([A]))).toBe(false);
    expect(journal.untouched('2', '4', new Set([A]))).toBe(true);
  });
});

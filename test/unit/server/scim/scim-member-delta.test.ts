import { describe, expect, it } from 'vitest';
import { memberDelta } from '../../../../src/server/scim/scim-member-delta.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

describe('memberDelta', () => {
  it("should read Entra's Add and Remove of member lists", () => {
    expect(
      memberDelta(
        patch(
          { op: 'Add', path: 'members', value: [{ value: 'A' }, { value: 'b' }] },
          { op: 'Remove', path: 'members', value: [{ value: 'c' }] },
        ),
      ),
    ).toEqual({ add: ['a', 'b'], remove: ['c'] });
  });

  it("should read Okta's removal by a value filter", () => {
    expect(memberDelta(patch({ op: 'remove', path: 'members[value eq "x-1"]' }))).toEqual({
      add: [],
      remove: ['x-1'],
    });
  });

  it('should let the last operation naming a member decide', () => {
    expect(
      memberDelta(
        patch(
          { op: 'add', path: 'members', value: [{ value: 'a' }] },
          { op: 'remove', path: 'members[value eq "a"]' },
          { op: 'remove', path: 'members', value: [{ value: 'b' }] },
          { op: 'add', path: 'members', value: [{ value: 'b' }] },
        ),
      ),
    ).toEqual({ add: ['b'], remove: ['a'] });
  });

  it('should leave every other PATCH to the whole-resource path', () => {
    for (const body of [
      patch({ op: 'replace', path: 'members', value: [{ value: 'a' }] }),
      patch({ op: 'replace', value: { displayName: 'x' } }),
      patch({ op: 'remove', path: 'members' }),
      patch({ op: 'add', path: 'members', value: [] }),
      patch({ op: 'add', path: 'members', value: [{ display: 'no value' }] }),
      patch({ op: 'remove', path: 'members[display eq "a"]' }),
      patch({ op: 'remove', path: 'members[value eq' }),
      patch(
        { op: 'add', path: 'members', value: [{ value: 'a' }] },
        { op: 'replace', path: 'displayName', value: 'x' },
      ),
      { Operations: [{ op: 'add', path: 'members', value: [{ value: 'a' }] }] },
      patch(),
      null,
      'members',
    ]) {
      expect(memberDelta(body), JSON.stringify(body)).toBeNull();
    }
  });
});

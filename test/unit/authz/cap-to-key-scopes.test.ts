import { capToKeyScopes, minimalKeyScopes } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { intersectResource } from 'keyholder-directive/authz/cap-to-owner.js';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { describe, expect, it } from 'vitest';

const grant = (scope: string, resource: string | null, id = 'g1') => ({
  id,
  scope,
  resource,
  expiresAt: null,
  grantable: true,
  condition: 'request.ip == "10.0.0.1"',
});

describe('intersectResource', () => {
  it.each([
    [null, null, null],
    [null, 'a', 'a'],
    ['a*', null, 'a*'],
    ['*', 'ab*', 'ab*'],
    ['a*', 'ab*', 'ab*'],
    ['ab*', 'a*', 'ab*'],
    ['a*', 'a*', 'a*'],
    ['a*', 'abc', 'abc'],
    ['abc', 'a*', 'abc'],
    ['abc', 'abc', 'abc'],
    ['abc', 'abd', undefined],
    ['a*', 'b*', undefined],
    ['ab*', 'a', undefined],
    ['a', 'ab*', undefined],
    ['eu-*', 'us-1', undefined],
  ])('should intersect %j and %j as %j', (a, b, expected) => {
    expect(intersectResource(a, b)).toBe(expected);
    expect(intersectResource(b, a)).toBe(expected);
  });

  it('should cover exactly the resources both patterns cover', () => {
    const patterns = [null, 'a*', 'ab*', 'abc', 'abd', 'b*', 'a', 'ab'];
    const ids = ['a', 'ab', 'abc', 'abd', 'abcd', 'b', 'ba', 'c'];
    for (const a of patterns) {
      for (const b of patterns) {
        const both = intersectResource(a, b);
        for (const id of ids) {
          const expected = GrantSet.covers(a, id) && GrantSet.covers(b, id);
          expect(both !== undefined && GrantSet.covers(both, id), `${a} ∩ ${b} on ${id}`).toBe(
            expected,
          );
        }
      }
    }
  });
});

describe('capToKeyScopes', () => {
  it('should leave grants as they are for an unscoped key', () => {
    const grants = [grant('orders:read', null)];
    expect(capToKeyScopes(grants, null)).toBe(grants);
  });

  it('should keep nothing for a key with no scopes', () => {
    expect(capToKeyScopes([grant('orders:read', null)], [])).toEqual([]);
  });

  it('should narrow each grant to the resources the key covers, keeping the rest of it', () => {
    const capped = capToKeyScopes(
      [grant('orders:read', 'eu-*'), grant('orders:write', null, 'g2')],
      [{ scope: 'orders:read', resource: 'eu-1' }],
    );
    expect(capped).toEqual([{ ...grant('orders:read', 'eu-*'), resource: 'eu-1' }]);
  });

  it('should drop a grant the key covers on no common resource', () => {
    expect(
      capToKeyScopes([grant('orders:read', 'eu-*')], [{ scope: 'orders:read', resource: 'us-*' }]),
    ).toEqual([]);
  });

  it('should keep the grant narrower than the key unchanged', () => {
    const held = grant('orders:read', 'eu-1');
    expect(capToKeyScopes([held], [{ scope: 'orders:read', resource: 'eu-*' }])).toEqual([held]);
  });
});

describe('minimalKeyScopes', () => {
  it('should drop entries another entry covers, and duplicates', () => {
    expect(
      minimalKeyScopes([
        { scope: 'orders:read', resource: 'eu-1' },
        { scope: 'orders:read', resource: 'eu-*' },
        { scope: 'orders:read', resource: 'eu-*' },
        { scope: 'orders:write', resource: 'eu-1' },
        { scope: 'orders:read', resource: 'us-1' },
      ]),
    ).toEqual([
      { scope: 'orders:read', resource: 'eu-*' },
      { scope: 'orders:write', resource: 'eu-1' },
      { scope: 'orders:read', resource: 'us-1' },
    ]);
  });

  it('should keep one every-resource entry over narrower ones', () => {
    expect(
      minimalKeyScopes([
        { scope: 'a:read', resource: 'x' },
        { scope: 'a:read', resource: null },
      ]),
    ).toEqual([{ scope: 'a:read', resource: null }]);
  });
});

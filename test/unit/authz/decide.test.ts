import {
  evaluateClause,
  evaluateScopes,
  evaluateStatically,
} from 'keyholder-directive/authz/decide.js';
import { type GrantLike, GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { type Clause, parseValuePath } from 'keyholder-directive/authz/requirement.js';
import { describe, expect, it } from 'vitest';

const now = 1_000;

function clause(
  parts: Partial<Omit<Clause, 'resource' | 'orSelf'>> & { resource?: string; orSelf?: string },
): Clause {
  return {
    allOf: parts.allOf ?? [],
    anyOf: parts.anyOf ?? [],
    resource: parts.resource === undefined ? null : parseValuePath(parts.resource),
    orSelf: parts.orSelf === undefined ? null : parseValuePath(parts.orSelf),
    origin: parts.origin ?? 'Query.thing',
  };
}

function grants(
  ...list: [string, (string | undefined)?, number?][]
): GrantSet<GrantLike & { id: string }> {
  return new GrantSet(
    list.map(([scope, resource, expiresAt], index) => ({
      id: `g${index}`,
      scope,
      resource: resource ?? null,
      expiresAt: expiresAt ?? null,
    })),
  );
}

const nobody = { resource: null, self: null };

describe('evaluateScopes', () => {
  it('should allow when every allOf scope is held, returning the grants used', () => {
    const outcome = evaluateScopes(
      clause({ allOf: ['a:read', 'b:read'] }),
      grants(['a:read'], ['b:read']),
      null,
      now,
    );

    expect(outcome).toEqual({
      allowed: true,
      bySelf: false,
      grants: [
        { id: 'g0', scope: 'a:read', resource: null, expiresAt: null },
        { id: 'g1', scope: 'b:read', resource: null, expiresAt: null },
      ],
    });
  });

  it('should deny naming every missing allOf scope', () => {
    const outcome = evaluateScopes(
      clause({ allOf: ['a:read', 'b:read', 'c:read'] }),
      grants(['b:read']),
      'x',
      now,
    );

    expect(outcome).toEqual({ allowed: false, missing: ['a:read', 'c:read'], resource: 'x' });
  });

  it('should allow anyOf with the first scope held', () => {
    const outcome = evaluateScopes(
      clause({ anyOf: ['a:read', 'b:read'] }),
      grants(['b:read']),
      null,
      now,
    );

    expect(outcome.allowed && outcome.grants.map((g) => g.scope)).toEqual(['b:read']);
  });

  it('should deny anyOf naming all its scopes when none is held', () => {
    const outcome = evaluateScopes(
      clause({ anyOf: ['a:read', 'b:read'] }),
      grants(['c:read']),
      null,
      now,
    );

    expect(outcome).toEqual({ allowed: false, missing: ['a:read', 'b:read'], resource: null });
  });

  it('should need both the allOf scopes and one anyOf scope', () => {
    const both = clause({ allOf: ['a:read'], anyOf: ['b:read', 'c:read'] });

    expect(evaluateScopes(both, grants(['a:read'], ['c:read']), null, now).allowed).toBe(true);
    expect(evaluateScopes(both, grants(['a:read']), null, now)).toMatchObject({
      missing: ['b:read', 'c:read'],
    });
    expect(evaluateScopes(both, grants(['c:read']), null, now)).toMatchObject({
      missing: ['a:read'],
    });
  });

  it('should need every scope of one of the anyOfSets (an OR of ANDs)', () => {
    const sets: Clause = {
      ...clause({}),
      anyOfSets: [
        ['a:read', 'b:read'],
        ['c:read', 'd:read'],
      ],
    };

    expect(evaluateScopes(sets, grants(['c:read'], ['d:read']), null, now)).toEqual({
      allowed: true,
      grants: [
        expect.objectContaining({ scope: 'c:read' }),
        expect.objectContaining({ scope: 'd:read' }),
      ],
      bySelf: false,
    });
    expect(evaluateScopes(sets, grants(['a:read'], ['d:read']), null, now)).toEqual({
      allowed: false,
      missing: ['b:read', 'c:read'],
      resource: null,
    });
  });

  it('should deny when the only set is empty, whatever is held (fail closed)', () => {
    const empty: Clause = { ...clause({}), anyOfSets: [[]] };

    expect(evaluateScopes(empty, grants(['a:read']), null, now).allowed).toBe(false);
  });

  it('should decide anyOfSets on a resource like any other scope', () => {
    const sets: Clause = {
      ...clause({ resource: 'parent.id' }),
      anyOfSets: [['a:read', 'b:read']],
    };
    const held = grants(['a:read', 'eu-*'], ['b:read']);

    expect(evaluateScopes(sets, held, 'eu-1', now).allowed).toBe(true);
    expect(evaluateScopes(sets, held, 'us-1', now).allowed).toBe(false);
    expect(evaluateStatically(sets, held, now)).toBe('per-value');
  });

  it('should ignore expired grants', () => {
    expect(
      evaluateScopes(clause({ allOf: ['a:read'] }), grants(['a:read', undefined, now]), null, now)
        .allowed,
    ).toBe(false);
  });
});

describe('evaluateClause', () => {
  const owned = clause({ allOf: ['identities:read'], resource: 'args.id', orSelf: 'args.id' });

  it('should allow by self when the value names the principal, without any grant', () => {
    const outcome = evaluateClause(
      owned,
      grants(),
      'id-1',
      { resource: 'id-1', self: 'id-1' },
      now,
    );

    expect(outcome).toEqual({ allowed: true, grants: [], bySelf: true });
  });

  it('should not allow by self for someone else, nor for an anonymous caller', () => {
    expect(
      evaluateClause(owned, grants(), 'id-1', { resource: 'id-2', self: 'id-2' }, now).allowed,
    ).toBe(false);
    expect(evaluateClause(owned, grants(), null, { resource: null, self: null }, now).allowed).toBe(
      false,
    );
  });

  it('should check the resource value against exact and prefix grants', () => {
    const held = grants(['identities:read', 'id-7'], ['identities:read', 'svc-*']);

    expect(
      evaluateClause(owned, held, 'id-1', { resource: 'id-7', self: 'id-7' }, now).allowed,
    ).toBe(true);
    expect(
      evaluateClause(owned, held, 'id-1', { resource: 'svc-3', self: 'svc-3' }, now).allowed,
    ).toBe(true);
    expect(evaluateClause(owned, held, 'id-1', { resource: 'id-8', self: 'id-8' }, now)).toEqual({
      allowed: false,
      missing: ['identities:read'],
      resource: 'id-8',
    });
  });

  it('should need a grant covering every instance when the resource value is missing', () => {
    const clauseOnResource = clause({ allOf: ['a:read'], resource: 'parent.id' });

    expect(
      evaluateClause(clauseOnResource, grants(['a:read', 'x*']), null, nobody, now).allowed,
    ).toBe(false);
    expect(evaluateClause(clauseOnResource, grants(['a:read']), null, nobody, now).allowed).toBe(
      true,
    );
  });

  it('should ignore the resource value of a clause that names no resource', () => {
    const scopeOnly = clause({ allOf: ['a:read'] });

    expect(
      evaluateClause(scopeOnly, grants(['a:read', 'x']), null, { resource: 'x', self: null }, now)
        .allowed,
    ).toBe(false);
  });
});

describe('evaluateStatically', () => {
  it('should allow once for every value when grants cover every instance', () => {
    const outcome = evaluateStatically(
      clause({ allOf: ['a:read'], resource: 'parent.id' }),
      grants(['a:read']),
      now,
    );

    expect(outcome).toMatchObject({ allowed: true });
  });

  it('should deny once when the clause depends on nothing per value', () => {
    expect(evaluateStatically(clause({ allOf: ['a:read'] }), grants(['a:read', 'x']), now)).toEqual(
      {
        allowed: false,
        missing: ['a:read'],
        resource: null,
      },
    );
  });

  it('should defer to each value when a resource or self could still allow', () => {
    expect(
      evaluateStatically(clause({ allOf: ['a:read'], resource: 'parent.id' }), grants(), now),
    ).toBe('per-value');
    expect(
      evaluateStatically(clause({ allOf: ['a:read'], orSelf: 'parent.id' }), grants(), now),
    ).toBe('per-value');
  });
});

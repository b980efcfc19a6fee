import { type GrantLike, GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { describe, expect, it } from 'vitest';

const now = Date.parse('2030-01-01T00:00:00Z');

function grant(
  id: string,
  scope: string,
  resource: string | null = null,
  expiresAt: GrantLike['expiresAt'] = null,
) {
  return { id, scope, resource, expiresAt };
}

describe('GrantSet', () => {
  it('should decide expiry at lookup time over a frozen list whose index is shared', () => {
    const list = Object.freeze([grant('g1', 'a:read', null, now + 1000), grant('g2', 'b:read')]);
    const first = new GrantSet(list);
    expect(first.covering('a:read', null, now)?.id).toBe('g1');
    // A second set over the same frozen list reuses its index, and still reads the clock given.
    const second = new GrantSet(list, { admits: (g) => g.id !== 'g2' });
    expect(second.covering('a:read', null, now + 1000)).toBeNull();
    expect(second.covering('b:read', null, now)).toBeNull();
    expect(first.covering('b:read', null, now)?.id).toBe('g2');
  });

  it('should index a list that is not frozen as it is at each construction', () => {
    const list = [grant('g1', 'a:read')];
    expect(new GrantSet(list).covering('a:read', null, now)?.id).toBe('g1');
    list.push(grant('g2', 'b:read'));
    expect(new GrantSet(list).covering('b:read', null, now)?.id).toBe('g2');
  });

  it('should count the grants it holds', () => {
    expect(new GrantSet([grant('g1', 'a:read'), grant('g2', 'a:read', 'x')]).size).toBe(2);
    expect(new GrantSet([]).size).toBe(0);
  });

  it('should let a grant without resource, or with "*", cover every instance', () => {
    const set = new GrantSet([grant('g1', 'orders:read'), grant('g2', 'billing:read', '*')]);

    expect(set.covering('orders:read', null, now)?.id).toBe('g1');
    expect(set.covering('orders:read', 'eu-1', now)?.id).toBe('g1');
    expect(set.covering('billing:read', 'inv-9', now)?.id).toBe('g2');
    expect(set.covering('billing:read', null, now)?.id).toBe('g2');
  });

  it('should let an exact grant cover its id only', () => {
    const set = new GrantSet([grant('g1', 'orders:read', 'eu-1')]);

    expect(set.covering('orders:read', 'eu-1', now)?.id).toBe('g1');
    expect(set.covering('orders:read', 'eu-10', now)).toBeNull();
    expect(set.covering('orders:read', null, now)).toBeNull();
    expect(set.covering('orders:read', null, now)).toBeNull();
  });

  it('should let a prefix grant cover every id starting with its prefix', () => {
    const set = new GrantSet([grant('g1', 'orders:read', 'eu-*')]);

    expect(set.covering('orders:read', 'eu-1', now)?.id).toBe('g1');
    expect(set.covering('orders:read', 'eu-', now)?.id).toBe('g1');
    expect(set.covering('orders:read', 'us-1', now)).toBeNull();
    expect(set.covering('orders:read', 'xeu-1', now)).toBeNull();
  });

  it('should prefer a global grant, then an exact one, then the longest prefix', () => {
    const scoped = new GrantSet([
      grant('short', 'orders:read', 'eu-*'),
      grant('long', 'orders:read', 'eu-north-*'),
      grant('exact', 'orders:read', 'eu-north-1'),
    ]);
    const withGlobal = new GrantSet([
      grant('exact', 'orders:read', 'eu-1'),
      grant('global', 'orders:read'),
    ]);

    expect(scoped.covering('orders:read', 'eu-north-1', now)?.id).toBe('exact');
    expect(scoped.covering('orders:read', 'eu-north-2', now)?.id).toBe('long');
    expect(scoped.covering('orders:read', 'eu-south-1', now)?.id).toBe('short');
    expect(withGlobal.covering('orders:read', 'eu-1', now)?.id).toBe('global');
  });

  it('should never let one scope cover another', () => {
    const set = new GrantSet([grant('g1', 'orders:write'), grant('g2', 'orders.notes:read')]);

    expect(set.covering('orders:read', 'eu-1', now)).toBeNull();
    expect(set.holdsAny('orders:read', now)).toBe(false);
  });

  it('should treat a grant as expired from its expiresAt instant, in any accepted form', () => {
    const set = new GrantSet([
      grant('number', 'a:read', null, now),
      grant('date', 'b:read', null, new Date(now - 1)),
      grant('iso', 'c:read', null, '2029-12-31T23:59:59Z'),
      grant('live', 'd:read', null, now + 1),
      grant('live-iso', 'e:read', null, '2030-01-01T00:00:01Z'),
    ]);

    expect(set.covering('a:read', null, now)).toBeNull();
    expect(set.covering('a:read', null, now - 1)?.id).toBe('number');
    expect(set.covering('b:read', null, now)).toBeNull();
    expect(set.covering('c:read', null, now)).toBeNull();
    expect(set.covering('d:read', null, now)?.id).toBe('live');
    expect(set.covering('e:read', null, now)?.id).toBe('live-iso');
  });

  it('should treat an unreadable expiry as already expired', () => {
    const set = new GrantSet([grant('g1', 'a:read', null, 'soon')]);

    expect(set.covering('a:read', null, 0)).toBeNull();
  });

  it('should skip an expired grant for a live one of the same scope', () => {
    const set = new GrantSet([
      grant('old-global', 'orders:read', null, now - 1),
      grant('old-exact', 'orders:read', 'eu-1', now - 1),
      grant('old-long', 'orders:read', 'eu-1*', now - 1),
      grant('live-short', 'orders:read', 'eu-*'),
    ]);

    expect(set.covering('orders:read', 'eu-1', now)?.id).toBe('live-short');
    expect(set.covering('orders:read', null, now)).toBeNull();
  });

  it('should say whether any live grant of a scope exists, whatever its resource', () => {
    const set = new GrantSet([
      grant('exact', 'a:read', 'x'),
      grant('prefix', 'b:read', 'x*'),
      grant('expired', 'c:read', 'x', now - 1),
    ]);

    expect(set.holdsAny('a:read', now)).toBe(true);
    expect(set.holdsAny('b:read', now)).toBe(true);
    expect(set.holdsAny('c:read', now)).toBe(false);
    expect(set.holdsAny('d:read', now)).toBe(false);
  });

  it('should keep working with grants that carry no id or expiry', () => {
    const set = new GrantSet([{ scope: 'a:read' }]);

    expect(set.covering('a:read', 'anything', now)).toEqual({ scope: 'a:read' });
  });
});

describe('GrantSet.coveringAll', () => {
  const set = new GrantSet([
    grant('all', 'a:read'),
    grant('eu', 'a:read', 'eu-*'),
    grant('eu1', 'a:read', 'eu-1'),
    grant('eu1-later', 'a:read', 'eu-1*'),
    grant('gone', 'a:read', 'eu-1', now - 1),
    grant('other', 'b:read'),
  ]);
  const ids = (scope: string, resource: string | null) =>
    set
      .coveringAll(scope, resource, now)
      .map((g) => g.id)
      .sort();

  it('should find every live grant covering one id: global, exact and prefixes', () => {
    expect(ids('a:read', 'eu-1')).toEqual(['all', 'eu', 'eu1', 'eu1-later']);
  });

  it('should find the grants covering a whole prefix, never an exact grant inside it', () => {
    expect(ids('a:read', 'eu-*')).toEqual(['all', 'eu']);
    expect(ids('a:read', 'eu-1*')).toEqual(['all', 'eu', 'eu1-later']);
  });

  it('should find only grants on every resource for every resource', () => {
    expect(ids('a:read', null)).toEqual(['all']);
  });

  it('should find nothing of another scope, nor an expired grant', () => {
    expect(ids('c:read', 'eu-1')).toEqual([]);
    expect(ids('a:read', 'eu-1')).not.toContain('gone');
  });
});

describe('GrantSet.covers', () => {
  it.each([
    [null, null, true],
    [null, 'eu-1', true],
    ['*', 'eu-1', true],
    ['eu-1', 'eu-1', true],
    ['eu-1', 'eu-10', false],
    ['eu-*', 'eu-10', true],
    ['eu-*', 'us-1', false],
    ['eu-1', null, false],
    ['eu-*', null, false],
  ] as const)('should decide pattern %s over resource %s as %s', (pattern, resource, covers) => {
    expect(GrantSet.covers(pattern, resource)).toBe(covers);
  });
});

import { intersectResource } from './cap-to-owner.js';

/** One entry of a scoped key: a scope on a resource pattern (`null`: every resource; `x*`: a prefix). */
export interface KeyScope {
  readonly scope: string;
  readonly resource: string | null;
}

/**
 * What grants authorize through a scoped key: each grant narrowed to the resources one of the key's
 * entries of the same scope also covers (`intersectResource`, exact for every pair of patterns),
 * everything else about it (expiry, grantable, conditions, id) kept. A grant two entries cover
 * appears once per entry. `scopes` null (an unscoped key, or a token): the grants as given.
 */
export function capToKeyScopes<
  G extends { readonly scope: string; readonly resource: string | null },
>(grants: readonly G[], scopes: readonly KeyScope[] | null): readonly G[] {
  if (scopes === null) return grants;
  if (!Object.isFrozen(grants) || !Object.isFrozen(scopes)) return capped(grants, scopes);
  let byScopes = sharedCaps.get(grants);
  if (byScopes === undefined) {
    byScopes = new WeakMap();
    sharedCaps.set(grants, byScopes);
  }
  const known = byScopes.get(scopes) as readonly G[] | undefined;
  if (known !== undefined) return known;
  const result = Object.freeze(capped(grants, scopes));
  byScopes.set(scopes, result);
  return result;
}

/**
 * Capped lists of frozen grant lists by frozen key scopes: a cached authentication's grants capped
 * once, so a decision about the caller itself (`check`) allocates nothing per request, and the
 * result, the same frozen array each time, keeps its `GrantSet` index (see `grant-set.ts`).
 */
const sharedCaps = new WeakMap<
  readonly object[],
  WeakMap<readonly KeyScope[], readonly object[]>
>();

function capped<G extends { readonly scope: string; readonly resource: string | null }>(
  grants: readonly G[],
  scopes: readonly KeyScope[],
): G[] {
  const byScope = new Map<string, (string | null)[]>();
  for (const entry of scopes) {
    const list = byScope.get(entry.scope);
    if (list === undefined) byScope.set(entry.scope, [entry.resource]);
    else list.push(entry.resource);
  }
  const capped: G[] = [];
  for (const grant of grants) {
    for (const resource of byScope.get(grant.scope) ?? []) {
      const covered = intersectResource(grant.resource, resource);
      if (covered === undefined) continue;
      capped.push(covered === grant.resource ? grant : { ...grant, resource: covered });
    }
  }
  return capped;
}

/**
 * The entries of `scopes` no other entry already covers (duplicates once), in the order given:
 * how a key's scopes are stored.
 */
export function minimalKeyScopes(scopes: readonly KeyScope[]): KeyScope[] {
  const kept: KeyScope[] = [];
  scopes.forEach((entry, index) => {
    const covered = scopes.some(
      (other, j) =>
        j !== index &&
        other.scope === entry.scope &&
        intersectResource(other.resource, entry.resource) === entry.resource &&
        // Of two equal entries, the first is kept.
        (other.resource !== entry.resource || j < index),
    );
    if (!covered) kept.push({ scope: entry.scope, resource: entry.resource });
  });
  return kept;
}

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

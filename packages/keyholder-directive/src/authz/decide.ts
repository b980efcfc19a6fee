import type { GrantLike, GrantSet, ResourceFacts } from './grant-set.js';
import type { Clause } from './requirement.js';

/** The result of one clause: the grants that allowed it, or the scopes that were missing. */
export type ClauseOutcome<G extends GrantLike> =
  | { readonly allowed: true; readonly grants: readonly G[]; readonly bySelf: boolean }
  | {
      readonly allowed: false;
      readonly missing: readonly string[];
      readonly resource: string | null;
    };

/**
 * Decides a clause's scopes against `grants` for one resource value (`null` meaning the clause
 * needs grants that cover every instance). Pure; deny unless every `allOf` scope, one `anyOf` scope
 * when given, and every scope of one of `anyOfSets` when given are covered.
 */
export function evaluateScopes<G extends GrantLike>(
  clause: Clause,
  grants: GrantSet<G>,
  resource: string | null,
  now: number,
  facts?: ResourceFacts,
): ClauseOutcome<G> {
  const used: G[] = [];
  const missing: string[] = [];
  for (const scope of clause.allOf) {
    const grant = grants.covering(scope, resource, now, facts);
    if (grant === null) missing.push(scope);
    else used.push(grant);
  }
  if (clause.anyOf.length > 0) {
    let found: G | null = null;
    for (const scope of clause.anyOf) {
      found = grants.covering(scope, resource, now, facts);
      if (found !== null) break;
    }
    if (found === null) missing.push(...clause.anyOf);
    else used.push(found);
  }
  let setsUnmet = false;
  if (clause.anyOfSets !== undefined && clause.anyOfSets.length > 0) {
    const found = coveringSet(clause.anyOfSets, grants, resource, now, facts);
    if (found === null) {
      setsUnmet = true;
      for (const set of clause.anyOfSets) {
        for (const scope of set) {
          if (!missing.includes(scope) && grants.covering(scope, resource, now, facts) === null) {
            missing.push(scope);
          }
        }
      }
    } else used.push(...found);
  }
  if (missing.length > 0 || setsUnmet) return { allowed: false, missing, resource };
  return { allowed: true, grants: used, bySelf: false };
}

/**
 * The grants covering every scope of the first set that is wholly covered, or `null`. An empty set
 * covers nothing (the transformer refuses one; this keeps the decision closed regardless).
 */
function coveringSet<G extends GrantLike>(
  sets: readonly (readonly string[])[],
  grants: GrantSet<G>,
  resource: string | null,
  now: number,
  facts: ResourceFacts | undefined,
): G[] | null {
  for (const set of sets) {
    if (set.length === 0) continue;
    const found: G[] = [];
    for (const scope of set) {
      const grant = grants.covering(scope, resource, now, facts);
      if (grant === null) break;
      found.push(grant);
    }
    if (found.length === set.length) return found;
  }
  return null;
}

/**
 * Decides a clause for one value.
 * - `orSelf` matches when the value it names equals `principal`;
 * - otherwise the scopes must cover `resource` (when the clause names one) or every instance.
 */
export function evaluateClause<G extends GrantLike>(
  clause: Clause,
  grants: GrantSet<G>,
  principal: string | null,
  values: {
    readonly resource: string | null;
    readonly self: string | null;
    /** The resource's type and properties, when the clause names properties. */
    readonly facts?: ResourceFacts | undefined;
  },
  now: number,
): ClauseOutcome<G> {
  if (clause.orSelf !== null && principal !== null && values.self === principal) {
    return { allowed: true, grants: [], bySelf: true };
  }
  return evaluateScopes(
    clause,
    grants,
    clause.resource === null ? null : values.resource,
    now,
    values.facts,
  );
}

/**
 * Decides a clause once for every value of a field, when that is possible.
 * - `allowed` when grants covering every instance satisfy the scopes (no per-value work);
 * - a denial when the clause depends on nothing per value;
 * - `'per-value'` when resource, self or properties must be read from each value.
 */
export function evaluateStatically<G extends GrantLike>(
  clause: Clause,
  grants: GrantSet<G>,
  now: number,
): ClauseOutcome<G> | 'per-value' {
  // Conditions may read the properties, which only each value has.
  if (clause.properties !== undefined && clause.properties.length > 0) return 'per-value';
  const outcome = evaluateScopes(clause, grants, null, now);
  if (outcome.allowed) return outcome;
  if (clause.resource !== null || clause.orSelf !== null) return 'per-value';
  return outcome;
}

import type { Clause } from '../../authz/requirement.js';
import type { Declaration } from '../../directive/declarations.js';
import { readClause } from '../../directive/read-clause.js';

const MAX_TERMS = 4096;

/** A clause's scopes as an OR of AND-sets (every way of satisfying it). */
function alternatives(clause: Clause): string[][] {
  let terms: string[][] = [[...clause.allOf]];
  const choices = [
    ...(clause.anyOf.length > 0 ? [clause.anyOf.map((s) => [s])] : []),
    ...(clause.anyOfSets !== undefined && clause.anyOfSets.length > 0
      ? [clause.anyOfSets.map((set) => [...set])]
      : []),
  ];
  for (const choice of choices) terms = terms.flatMap((t) => choice.map((c) => [...t, ...c]));
  return terms;
}

/**
 * Whether holding `clauses` together always satisfies `wanted`'s scopes: every way of
 * satisfying all of them contains a way of satisfying `wanted` (exact for these monotone rules).
 * Gives up (answering true) past `MAX_TERMS` combinations rather than report noise.
 */
export function implies(clauses: readonly Clause[], wanted: Clause): boolean {
  let terms: string[][] = [[]];
  for (const clause of clauses) {
    terms = terms.flatMap((t) => alternatives(clause).map((a) => [...t, ...a]));
    if (terms.length > MAX_TERMS) return true;
  }
  const needed = alternatives(wanted);
  return terms.every((term) => needed.some((need) => need.every((s) => term.includes(s))));
}

/** Whether `held` applies at least as narrowly as `wanted` on resource and self access. */
export function covers(held: Clause, wanted: Clause): boolean {
  return (
    (held.resource === null || held.resource.text === wanted.resource?.text) &&
    (held.orSelf === null || held.orSelf.text === wanted.orSelf?.text)
  );
}

export function clausesOf(declarations: readonly Declaration[]): Clause[] {
  return declarations.flatMap((d) => {
    if (d.kind === 'authenticated') return [];
    const { clause } = readClause(d);
    return clause === null ? [] : [clause];
  });
}

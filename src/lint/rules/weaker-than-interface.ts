import { type GraphQLSchema, isIntrospectionType, isObjectType } from 'graphql';
import { type Clause, describeClause } from '../../authz/requirement.js';
import { type Declaration, declarationsAt, declarationsOf } from '../../directive/declarations.js';
import type { DirectiveNames } from '../../directive/directive-names.js';
import { readClause } from '../../directive/read-clause.js';
import type { Finding } from '../finding.js';
import { locationOf } from '../sdl-location.js';

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
function implies(clauses: readonly Clause[], wanted: Clause): boolean {
  let terms: string[][] = [[]];
  for (const clause of clauses) {
    terms = terms.flatMap((t) => alternatives(clause).map((a) => [...t, ...a]));
    if (terms.length > MAX_TERMS) return true;
  }
  const needed = alternatives(wanted);
  return terms.every((term) => needed.some((need) => need.every((s) => term.includes(s))));
}

/** Whether `held` applies at least as narrowly as `wanted` on resource and self access. */
function covers(held: Clause, wanted: Clause): boolean {
  return (
    (held.resource === null || held.resource.text === wanted.resource?.text) &&
    (held.orSelf === null || held.orSelf.text === wanted.orSelf?.text)
  );
}

function clausesOf(declarations: readonly Declaration[]): Clause[] {
  return declarations.flatMap((d) => {
    if (d.kind === 'authenticated') return [];
    const { clause } = readClause(d);
    return clause === null ? [] : [clause];
  });
}

/**
 * `weaker-than-interface`: an object field that declares less than the interface field it
 * implements. Keyholder's transformer still applies the interface field's requirement (it ANDs
 * them), so this is about what the SDL says: other servers, routers and readers see only what
 * the object field, its type and what it returns declare.
 */
export function weakerThanInterface(schema: GraphQLSchema, names: DirectiveNames): Finding[] {
  const findings: Finding[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    for (const iface of type.getInterfaces()) {
      for (const ifaceField of Object.values(iface.getFields())) {
        const field = type.getFields()[ifaceField.name];
        if (field === undefined) continue;
        const origin = `${iface.name}.${ifaceField.name}`;
        const declared = declarationsAt(schema, ifaceField, origin, field, names, 'field');
        if (declared.length === 0) continue;
        const own = declarationsOf(schema, type, field.name, names).filter(
          (d) => d.via !== 'interface' && d.via !== 'interface field',
        );
        const ownClauses = clausesOf(own);
        const coordinate = `${type.name}.${field.name}`;
        const location = locationOf(field.astNode);
        const report = (what: string) =>
          findings.push({
            rule: 'weaker-than-interface',
            coordinate,
            message: `${coordinate} declares less than ${origin}, which requires ${what}: Keyholder still enforces it, but declare it on ${coordinate} or type ${type.name} so the SDL says so.`,
            ...(location === undefined ? {} : { location }),
          });
        if (declared.some((d) => d.kind === 'authenticated') && own.length === 0) {
          report('an authenticated caller');
        }
        for (const wanted of clausesOf(declared)) {
          const held = ownClauses.filter((c) => covers(c, wanted));
          if (!implies(held, wanted)) report(describeClause(wanted));
        }
      }
    }
  }
  return findings;
}

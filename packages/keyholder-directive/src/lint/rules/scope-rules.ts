import type { GraphQLSchema } from 'graphql';
import { parseScopeName } from '../../authz/scope-name.js';
import { declarationsAt } from '../../directive/declarations.js';
import type { DirectiveNames } from '../../directive/directive-names.js';
import { readClause } from '../../directive/read-clause.js';
import type { Finding, SdlLocation } from '../finding.js';
import { locationOf } from '../sdl-location.js';
import type { DeclarationSite } from './declaration-sites.js';

function directiveLocation(site: DeclarationSite, name: string): SdlLocation | undefined {
  for (const node of site.astNodes) {
    const directives = 'directives' in node ? node.directives : undefined;
    const found = directives?.find((d) => d.name.value === name);
    if (found !== undefined) return locationOf(found);
  }
  return locationOf(site.astNodes[0]);
}

/**
 * `malformed-scope`, `unknown-scope` and `invalid-requirement`: what each `@requires` and
 * `@requiresScopes` declares, read once where it is written.
 * - a scope name that is not `<resource>:<action>` is malformed;
 * - with `knownScopes`, a well-formed name not in it is unknown;
 * - anything else the transformer would refuse (no scope, a bad path) is an invalid requirement.
 */
export function scopeRules(
  schema: GraphQLSchema,
  sites: readonly DeclarationSite[],
  names: DirectiveNames,
  knownScopes: ReadonlySet<string> | null,
): Finding[] {
  const findings: Finding[] = [];
  for (const site of sites) {
    const declarations = declarationsAt(
      schema,
      site.element,
      site.origin,
      site.field,
      names,
      'field',
      ['requires', 'requiresScopes'],
    );
    for (const declaration of declarations) {
      const location = directiveLocation(site, names[declaration.kind]);
      const at = location === undefined ? {} : { location };
      const { clause, problems } = readClause(declaration);
      for (const problem of problems) {
        findings.push({
          rule: problem.scope === undefined ? 'invalid-requirement' : 'malformed-scope',
          coordinate: site.coordinate,
          message: problem.message,
          ...at,
        });
      }
      if (knownScopes === null || clause === null) continue;
      const named = new Set([...clause.allOf, ...clause.anyOf, ...(clause.anyOfSets ?? []).flat()]);
      for (const scope of named) {
        if (parseScopeName(scope) === null || knownScopes.has(scope)) continue;
        findings.push({
          rule: 'unknown-scope',
          coordinate: site.coordinate,
          message: `@${names[declaration.kind]} on ${site.origin} names "${scope}", which is not a known scope: define it, or fix the name.`,
          ...at,
        });
      }
    }
  }
  return findings;
}

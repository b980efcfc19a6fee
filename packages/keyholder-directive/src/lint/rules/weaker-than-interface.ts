import { type GraphQLSchema, isIntrospectionType, isObjectType } from 'graphql';
import { describeClause } from '../../authz/requirement.js';
import { declarationsAt, declarationsOf } from '../../directive/declarations.js';
import type { DirectiveNames } from '../../directive/directive-names.js';
import type { Finding } from '../finding.js';
import { locationOf } from '../sdl-location.js';
import { clausesOf, covers, implies } from './clause-logic.js';

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

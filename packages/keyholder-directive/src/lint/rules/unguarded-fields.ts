import { getDirective } from '@graphql-tools/utils';
import {
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isIntrospectionType,
  isObjectType,
} from 'graphql';
import { declarationsOf } from '../../directive/declarations.js';
import type { DirectiveNames } from '../../directive/directive-names.js';
import type { Finding } from '../finding.js';
import { locationOf } from '../sdl-location.js';

/** How a type was first reached without passing a requirement: from a root, or through a field. */
type Reach = { readonly root: string } | { readonly through: string };

/**
 * `unguarded-field`: every object field a caller can reach without passing any requirement, and
 * that has none itself.
 * - Entry points are the root types and, in a federation subgraph, every type with `@key` (the
 *   router fetches entities directly).
 * - A field with a requirement (its own, its type's, its interfaces', or what it returns) guards
 *   everything below it: those fields run only once it is allowed.
 * - An unguarded field's type is reached in turn (for an interface or union, every possible
 *   object type), so its fields are checked too.
 * - `allowUnguarded` coordinates are not reported, but what they return is still checked.
 */
export function unguardedFields(
  schema: GraphQLSchema,
  names: DirectiveNames,
  allowUnguarded: ReadonlySet<string>,
): Finding[] {
  const findings: Finding[] = [];
  const reached = new Map<GraphQLObjectType, Reach>();
  const queue: GraphQLObjectType[] = [];
  const reach = (type: GraphQLNamedType, how: Reach) => {
    const objects = isAbstractType(type)
      ? schema.getPossibleTypes(type)
      : isObjectType(type)
        ? [type]
        : [];
    for (const object of objects) {
      if (reached.has(object) || isIntrospectionType(object)) continue;
      reached.set(object, how);
      queue.push(object);
    }
  };

  for (const root of [
    schema.getQueryType(),
    schema.getMutationType(),
    schema.getSubscriptionType(),
  ]) {
    if (root) reach(root, { root: root.name });
  }
  for (const type of Object.values(schema.getTypeMap())) {
    if (isObjectType(type) && (getDirective(schema, type, 'key')?.length ?? 0) > 0) {
      reach(type, { root: `the federation entity ${type.name}` });
    }
  }

  for (let i = 0; i < queue.length; i++) {
    const type = queue[i] as GraphQLObjectType;
    const how = reached.get(type) as Reach;
    for (const field of Object.values(type.getFields())) {
      if (declarationsOf(schema, type, field.name, names).length > 0) continue;
      const coordinate = `${type.name}.${field.name}`;
      reach(getNamedType(field.type), { through: coordinate });
      if (allowUnguarded.has(coordinate)) continue;
      const where =
        'root' in how
          ? how.root === type.name
            ? `is a root field of ${type.name}`
            : `is reachable as ${how.root}`
          : `is reachable through ${how.through}, which has none either`;
      const location = locationOf(field.astNode);
      findings.push({
        rule: 'unguarded-field',
        coordinate,
        message: `${coordinate} has no requirement and ${where}: add @requires, @requiresScopes or @authenticated to it or its type, or allow it explicitly.`,
        ...(location === undefined ? {} : { location }),
      });
    }
  }
  return findings;
}

import type { GraphQLSchema } from 'graphql';
import { declarationsOf } from './declarations.js';
import { type DirectiveNames, directiveNames } from './directive-names.js';

/**
 * Deny by default: throws when a root field (Query, Mutation, Subscription) has no requirement
 * (`@requires`, `@requiresScopes` or `@authenticated` on the field, its type or what it returns),
 * naming every such field.
 */
export function assertRootFieldsGuarded(
  schema: GraphQLSchema,
  names: Partial<DirectiveNames> = {},
): void {
  const resolved = directiveNames(names);
  const unguarded: string[] = [];
  for (const type of [
    schema.getQueryType(),
    schema.getMutationType(),
    schema.getSubscriptionType(),
  ]) {
    if (!type) continue;
    for (const field of Object.values(type.getFields())) {
      if (declarationsOf(schema, type, field.name, resolved).length === 0) {
        unguarded.push(`${type.name}.${field.name}`);
      }
    }
  }
  if (unguarded.length > 0) {
    throw new Error(
      `Refusing to serve a schema with unguarded root fields: ${unguarded.join(', ')}. Add @requires or @authenticated to each.`,
    );
  }
}

import { getDirective } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';

/**
 * Deny by default: throws when a root field (Query, Mutation, Subscription) carries neither
 * `@requires` nor `@authenticated`, naming every such field.
 */
export function assertRootFieldsGuarded(
  schema: GraphQLSchema,
  names: { requires: string; authenticated: string } = {
    requires: 'requires',
    authenticated: 'authenticated',
  },
): void {
  const unguarded: string[] = [];
  for (const type of [
    schema.getQueryType(),
    schema.getMutationType(),
    schema.getSubscriptionType(),
  ]) {
    if (!type) continue;
    const typeGuarded =
      (getDirective(schema, type, names.requires)?.length ?? 0) > 0 ||
      (getDirective(schema, type, names.authenticated)?.length ?? 0) > 0;
    for (const field of Object.values(type.getFields())) {
      const guarded =
        typeGuarded ||
        (getDirective(schema, field, names.requires)?.length ?? 0) > 0 ||
        (getDirective(schema, field, names.authenticated)?.length ?? 0) > 0;
      if (!guarded) unguarded.push(`${type.name}.${field.name}`);
    }
  }
  if (unguarded.length > 0) {
    throw new Error(
      `Refusing to serve a schema with unguarded root fields: ${unguarded.join(', ')}. Add @requires or @authenticated to each.`,
    );
  }
}

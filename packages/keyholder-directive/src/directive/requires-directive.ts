import type { GraphQLSchema } from 'graphql';
import type { GrantLike } from '../authz/grant-set.js';
import type { RequiresDirectiveOptions } from './options.js';
import { createRequiresTransformer } from './transformer.js';
import { apolloAuthenticatedLocations, requiresScopesSdl, requiresTypeDefs } from './type-defs.js';

export interface RequiresDirective {
  /**
   * SDL declaring `@requires` and `@authenticated` (and, with `compat.requiresScopes`,
   * `@requiresScopes`); add it to your type definitions.
   */
  readonly typeDefs: string;
  /** Returns a copy of the schema whose fields enforce the directives. */
  readonly transformer: (schema: GraphQLSchema) => GraphQLSchema;
}

/**
 * `@requires` and `@authenticated` for any graphql-js schema (graphql-tools convention), and
 * Apollo Router's `@requiresScopes` wherever the schema declares it.
 * ```ts
 * const { typeDefs, transformer } = requiresDirective({ grants: (ctx) => ctx.grants });
 * const schema = transformer(makeExecutableSchema({ typeDefs: [typeDefs, mine], resolvers }));
 * ```
 */
export function requiresDirective<TContext = unknown, G extends GrantLike = GrantLike>(
  options: RequiresDirectiveOptions<TContext, G>,
): RequiresDirective {
  let typeDefs = requiresTypeDefs;
  if (options.names?.requires)
    typeDefs = typeDefs.replace('@requires(', `@${options.names.requires}(`);
  if (options.compat?.requiresScopes) {
    typeDefs = typeDefs.replace(
      '@authenticated on OBJECT | FIELD_DEFINITION',
      `@authenticated on ${apolloAuthenticatedLocations}`,
    );
    typeDefs += requiresScopesSdl(options.names?.requiresScopes, options.compat.scopeType);
  }
  if (options.names?.authenticated) {
    typeDefs = typeDefs.replace('@authenticated ', `@${options.names.authenticated} `);
  }
  return { typeDefs, transformer: createRequiresTransformer(options) };
}

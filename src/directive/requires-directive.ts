import type { GraphQLSchema } from 'graphql';
import type { GrantLike } from '../authz/grant-set.js';
import type { RequiresDirectiveOptions } from './options.js';
import { createRequiresTransformer } from './transformer.js';
import { requiresTypeDefs } from './type-defs.js';

export interface RequiresDirective {
  /** SDL declaring `@requires` and `@authenticated`; add it to your type definitions. */
  readonly typeDefs: string;
  /** Returns a copy of the schema whose fields enforce the directives. */
  readonly transformer: (schema: GraphQLSchema) => GraphQLSchema;
}

/**
 * `@requires` and `@authenticated` for any graphql-js schema (graphql-tools convention).
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
  if (options.names?.authenticated) {
    typeDefs = typeDefs.replace('@authenticated ', `@${options.names.authenticated} `);
  }
  return { typeDefs, transformer: createRequiresTransformer(options) };
}

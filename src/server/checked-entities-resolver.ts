import type { GraphQLFieldResolver } from 'graphql';
import { badUserInput, type DomainError } from 'keyholder-directive/errors.js';

const MAX_SHOWN = 60;

function shorten(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

function describe(value: unknown): string {
  return shorten(JSON.stringify(value) ?? String(value));
}

/**
 * `Query._entities` for a subgraph whose entity types are `entityTypes`:
 * - each representation must be an object whose `__typename` names one of them; anything else is
 *   `BAD_USER_INPUT` at that representation's index (`extensions.index`), never an internal error;
 * - the others are resolved in one call to `resolveEntities`, the `_entities` resolver
 *   `@apollo/subgraph` built, which hands each to its type's `__resolveReference` (so per-request
 *   loaders batch them), in order.
 */
export function checkedEntitiesResolver(
  entityTypes: readonly string[],
  resolveEntities: GraphQLFieldResolver<unknown, unknown, { representations: readonly unknown[] }>,
): GraphQLFieldResolver<unknown, unknown, { representations: readonly unknown[] }> {
  const known = new Set(entityTypes);
  const problemOf = (representation: unknown, index: number): DomainError | null => {
    const where = `Representation ${index} of _entities`;
    if (
      representation === null ||
      typeof representation !== 'object' ||
      Array.isArray(representation)
    ) {
      return badUserInput(
        `${where} must be an object with "__typename" and the entity's key fields; got ${describe(representation)}.`,
        { index },
      );
    }
    const typename = (representation as { __typename?: unknown }).__typename;
    if (typeof typename !== 'string') {
      return badUserInput(`${where} has no "__typename" naming its entity type.`, { index });
    }
    if (!known.has(typename)) {
      return badUserInput(
        `${where} names "${shorten(typename)}", which is not an entity of this subgraph (${[...known].join(', ')}).`,
        { index },
      );
    }
    return null;
  };

  return (source, { representations }, context, info) => {
    const problems = representations.map(problemOf);
    const valid = representations.filter((_, index) => problems[index] === null);
    const resolved =
      valid.length === 0
        ? []
        : (resolveEntities(source, { representations: valid }, context, info) as unknown[]);
    let next = 0;
    return problems.map((problem) => problem ?? resolved[next++]);
  };
}

import {
  type GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  isUnionType,
} from 'graphql';
import type { GrantLike } from '../authz/grant-set.js';
import type { Requirement } from '../authz/requirement.js';
import { invariant } from '../errors.js';
import { typeRequirementOf } from './collect-requirements.js';
import type { DirectiveNames } from './directive-names.js';
import type { FieldGuard } from './field-guard.js';
import { isPromiseLike, type OperationStates } from './operation-state.js';

type Resolver = GraphQLFieldResolver<unknown, unknown, Record<string, unknown>>;

/** Federation's entry point: `Query._entities(representations: [_Any!]!): [_Entity]!`. */
export const ENTITIES_FIELD = '_entities';
const ENTITY_UNION = '_Entity';

/**
 * The guards of the types federation's `_entities` can return, by type name: each entity type
 * (a member of `_Entity`, or an interface one implements) with a requirement of its own. Empty
 * when the schema has no `_Entity` union or no entity type declares anything.
 */
export function entityGuardsOf<G extends GrantLike>(
  schema: GraphQLSchema,
  names: Partial<DirectiveNames>,
  guard: (coordinate: string, requirement: Requirement) => FieldGuard<G>,
): ReadonlyMap<string, FieldGuard<G>> {
  const guards = new Map<string, FieldGuard<G>>();
  const union = schema.getType(ENTITY_UNION);
  if (!isUnionType(union)) return guards;
  for (const member of union.getTypes()) {
    for (const type of [member, ...member.getInterfaces()]) {
      if (guards.has(type.name)) continue;
      const requirement = typeRequirementOf(schema, type, names);
      if (requirement !== null) guards.set(type.name, guard(type.name, requirement));
    }
  }
  return guards;
}

/**
 * Wraps `_entities`' resolver so an entity type's own requirement is decided on each
 * representation (its `__typename` and key fields, read as `parent`) before anything is resolved:
 * - a denied representation becomes the guard's `FORBIDDEN` error at its index and is never passed
 *   on, so the answer neither shows the entity nor tells whether it exists (as a root field guarded
 *   on its arguments would);
 * - the others are resolved together, in one call (so loaders batch them), and their fields are
 *   guarded as everywhere else;
 * - representations naming no guarded type pass through (the resolver judges them).
 * Paths a representation does not carry read as `null`: only grants on every resource cover them.
 */
export function guardEntities<G extends GrantLike>(
  resolve: Resolver,
  guards: ReadonlyMap<string, FieldGuard<G>>,
  states: OperationStates<unknown, G>,
): Resolver {
  if (guards.size === 0) return resolve;
  return (source, args, context, info) => {
    const representations = args.representations;
    if (!Array.isArray(representations)) return resolve(source, args, context, info);
    const state = states.current(context, info);
    invariant(state !== undefined, '_entities runs after its root guard loaded the operation.');
    const denials: (GraphQLError | null)[] = representations.map((representation: unknown) => {
      if (representation === null || typeof representation !== 'object') return null;
      const typename = (representation as { __typename?: unknown }).__typename;
      const guard = typeof typename === 'string' ? guards.get(typename) : undefined;
      return guard === undefined ? null : guard.check(state, representation, {});
    });
    if (denials.every((denial) => denial === null)) return resolve(source, args, context, info);
    const allowed = representations.filter((_, index) => denials[index] === null);
    const merge = (resolved: unknown) => {
      if (!Array.isArray(resolved)) return resolved;
      let next = 0;
      return denials.map((denial) => denial ?? resolved[next++]);
    };
    if (allowed.length === 0) return merge([]);
    const resolved = resolve(source, { ...args, representations: allowed }, context, info);
    return isPromiseLike(resolved) ? Promise.resolve(resolved).then(merge) : merge(resolved);
  };
}

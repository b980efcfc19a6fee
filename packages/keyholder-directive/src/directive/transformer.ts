import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { GrantLike } from '../authz/grant-set.js';
import type { Requirement } from '../authz/requirement.js';
import { InvalidRequirementError, requirementOf } from './collect-requirements.js';
import { directiveNames } from './directive-names.js';
import { ENTITIES_FIELD, entityGuardsOf, guardEntities } from './entity-guards.js';
import { FieldGuard } from './field-guard.js';
import { isPromiseLike, type OperationState, OperationStates } from './operation-state.js';
import type { RequiresDirectiveOptions } from './options.js';
import { guardEvents, SubscriptionDenied } from './subscription-guard.js';

type Resolver = GraphQLFieldResolver<unknown, unknown, Record<string, unknown>>;

function needsPrincipal(requirement: Requirement): boolean {
  return requirement.authenticated || requirement.clauses.some((c) => c.orSelf !== null);
}

/** Runs `next` once the operation's state exists (loading it on first use). */
function withState<G extends GrantLike>(
  states: OperationStates<unknown, G>,
  next: (state: OperationState<G>, ...rest: Parameters<Resolver>) => unknown,
): Resolver {
  return (source, args, context, info) => {
    const state = states.current(context, info);
    if (state !== undefined) return next(state, source, args, context, info);
    const loading = states.load(context, info);
    if (isPromiseLike<OperationState<G>>(loading)) {
      return loading.then((loaded) => next(loaded, source, args, context, info));
    }
    return next(loading, source, args, context, info);
  };
}

/**
 * Builds the schema transformer. Every object field with a requirement gets a guard that runs
 * before its resolver; root fields also load the caller's grants for the operation, so nested
 * fields decide synchronously. Subscription fields are checked at subscribe time and before every
 * event, ending the stream with `FORBIDDEN` once access is lost. In a federation subgraph,
 * `_entities` also decides each entity type's own requirement per representation (`guardEntities`).
 */
export function createRequiresTransformer<TContext, G extends GrantLike>(
  options: RequiresDirectiveOptions<TContext, G>,
): (schema: GraphQLSchema) => GraphQLSchema {
  const names = directiveNames(options.names);
  const now = options.now ?? Date.now;

  return (schema) => {
    const states = new OperationStates<unknown, G>(options as RequiresDirectiveOptions<unknown, G>);
    const rootTypes = new Map<string, 'query' | 'mutation' | 'subscription'>();
    for (const [kind, type] of [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const) {
      if (type) rootTypes.set(type.name, kind);
    }
    let guards = 0;
    const checkPrincipal = (coordinate: string, requirement: Requirement) => {
      if (needsPrincipal(requirement) && options.principal === undefined) {
        throw new InvalidRequirementError(
          `${coordinate} uses @${names.authenticated} or orSelf, which need requiresDirective({ principal }) to know the caller.`,
        );
      }
    };
    const entityGuards = entityGuardsOf<G>(schema, names, (coordinate, requirement) => {
      checkPrincipal(`type ${coordinate}`, requirement);
      return new FieldGuard<G>(coordinate, requirement, guards++, now);
    });

    return mapSchema(schema, {
      [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
        const type = schema.getType(typeName) as GraphQLObjectType;
        const requirement = requirementOf(schema, type, fieldName, names);
        const root = rootTypes.get(typeName);
        // Federation's `_entities` also decides each entity type's own requirement per representation.
        const fieldConfig =
          root === 'query' && fieldName === ENTITIES_FIELD
            ? {
                ...config,
                resolve: guardEntities(
                  config.resolve ?? defaultFieldResolver,
                  entityGuards,
                  states,
                ),
              }
            : config;
        if (requirement === null && root === undefined) return fieldConfig;
        if (requirement !== null) checkPrincipal(`${typeName}.${fieldName}`, requirement);
        const guard =
          requirement === null
            ? null
            : new FieldGuard<G>(`${typeName}.${fieldName}`, requirement, guards++, now);
        if (root === 'subscription') {
          return guardSubscription(fieldConfig, guard, states, options.subscriptionRecheckMs ?? 0);
        }
        return guardField(fieldConfig, guard, states);
      },
    });
  };
}

function guardField<G extends GrantLike>(
  fieldConfig: GraphQLFieldConfig<unknown, unknown>,
  guard: FieldGuard<G> | null,
  states: OperationStates<unknown, G>,
): GraphQLFieldConfig<unknown, unknown> {
  const resolve: Resolver = fieldConfig.resolve ?? defaultFieldResolver;
  if (guard === null) {
    return { ...fieldConfig, resolve: withState(states, (_s, ...rest) => resolve(...rest)) };
  }
  const guarded = withState<G>(states, (state, source, args, context, info) => {
    const error = guard.check(state, source, args);
    return error === null ? resolve(source, args, context, info) : error;
  });
  // Fast path: most calls find the state already loaded and decide synchronously.
  return {
    ...fieldConfig,
    resolve: (source, args, context, info) => {
      const state = states.current(context, info);
      if (state === undefined) return guarded(source, args, context, info);
      const error = guard.check(state, source, args);
      return error === null ? resolve(source, args, context, info) : error;
    },
  };
}

function guardSubscription<G extends GrantLike>(
  fieldConfig: GraphQLFieldConfig<unknown, unknown>,
  guard: FieldGuard<G> | null,
  states: OperationStates<unknown, G>,
  recheckMs: number,
): GraphQLFieldConfig<unknown, unknown> {
  const subscribe: Resolver = fieldConfig.subscribe ?? defaultFieldResolver;
  const resolve: Resolver = fieldConfig.resolve ?? defaultFieldResolver;
  return {
    ...fieldConfig,
    subscribe: async (source, args, context, info) => {
      const state = await states.load(context, info);
      const error = guard?.check(state, source, args) ?? null;
      if (error !== null) throw error;
      const events = await subscribe(source, args, context, info);
      if (events instanceof Error || !isAsyncIterable(events)) return events;
      return guardEvents(
        events,
        async () => {
          const fresh = await states.loadForEvent(context, info);
          return guard?.check(fresh, source, args) ?? null;
        },
        recheckMs,
      );
    },
    resolve: (payload, args, context, info) => {
      if (payload instanceof SubscriptionDenied) throw payload.error;
      states.adopt(context, info);
      return resolve(payload, args, context, info);
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

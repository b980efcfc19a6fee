import type { GraphQLResolveInfo, OperationDefinitionNode } from 'graphql';
import { GrantSet, type GrantLike } from '../authz/grant-set.js';
import type { RequiresDirectiveOptions } from './options.js';

/** A decision kept for one field coordinate for the rest of an operation. */
export type CachedDecision = unknown;

/** What the directive knows about one operation: the caller, its grants, decisions so far. */
export interface OperationState<G extends GrantLike> {
  readonly operation: OperationDefinitionNode;
  readonly grants: GrantSet<G>;
  readonly principal: string | null;
  /** Set when grants could not be loaded: every guarded field is denied. */
  readonly loadError: unknown;
  /** Indexed by guard number; `undefined` until the coordinate is first decided. */
  readonly decisions: CachedDecision[];
}

/**
 * Keeps one `OperationState` per (context, operation). Contexts are per operation in every
 * server we support (Apollo per request, graphql-ws per subscribe), so a WeakMap on the context
 * lets the state go with it.
 */
export class OperationStates<TContext, G extends GrantLike> {
  readonly #states = new WeakMap<object, OperationState<G>>();
  readonly #pending = new WeakMap<object, { operation: OperationDefinitionNode; promise: Promise<OperationState<G>> }>();
  readonly #options: RequiresDirectiveOptions<TContext, G>;

  constructor(options: RequiresDirectiveOptions<TContext, G>) {
    this.#options = options;
  }

  /** The state of the operation `info` belongs to, if it was loaded. */
  current(context: unknown, info: GraphQLResolveInfo): OperationState<G> | undefined {
    if (context === null || typeof context !== 'object') return undefined;
    const state = this.#states.get(context);
    return state !== undefined && state.operation === info.operation ? state : undefined;
  }

  /**
   * Loads grants and principal for the operation, replacing any earlier state of this context.
   * Returns synchronously when `options.grants` does; never rejects (a failure becomes `loadError`).
   */
  load(context: unknown, info: GraphQLResolveInfo): OperationState<G> | Promise<OperationState<G>> {
    const operation = info.operation;
    if (context !== null && typeof context === 'object') {
      const pending = this.#pending.get(context);
      if (pending !== undefined && pending.operation === operation) return pending.promise;
    }
    const fail = (error: unknown) => this.#store(context, operation, [], null, error);
    if (context === null || typeof context !== 'object') {
      return fail(new Error('The @requires directive needs an object as the GraphQL context.'));
    }
    try {
      const principal = this.#options.principal?.(context as TContext) ?? null;
      const grants = this.#options.grants(context as TContext);
      if (isPromiseLike(grants)) {
        const promise = Promise.resolve(grants).then(
          (list) => this.#store(context, operation, list, principal, undefined),
          fail,
        );
        this.#pending.set(context, { operation, promise });
        return promise;
      }
      return this.#store(context, operation, grants, principal, undefined);
    } catch (error) {
      return fail(error);
    }
  }

  #store(
    context: unknown,
    operation: OperationDefinitionNode,
    grants: readonly G[],
    principal: string | null,
    loadError: unknown,
  ): OperationState<G> {
    const state: OperationState<G> = {
      operation,
      grants: new GrantSet(Array.isArray(grants) ? grants : []),
      principal,
      loadError,
      decisions: [],
    };
    if (context !== null && typeof context === 'object') {
      this.#states.set(context, state);
      if (this.#pending.get(context)?.operation === operation) this.#pending.delete(context);
    }
    return state;
  }
}

export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

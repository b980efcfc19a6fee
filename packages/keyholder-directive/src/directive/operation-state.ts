import type { GraphQLResolveInfo, OperationDefinitionNode } from 'graphql';
import { type GrantGate, type GrantLike, GrantSet } from '../authz/grant-set.js';
import type { DecisionRecorder } from './decision-recorder.js';
import type { RequiresDirectiveOptions } from './options.js';

/** A decision kept for one field coordinate for the rest of an operation. */
export type CachedDecision = unknown;

/** What the directive knows about one operation: the caller, its grants, decisions so far. */
export interface OperationState<G extends GrantLike> {
  readonly operation: OperationDefinitionNode;
  /** The execution it belongs to: graphql-js builds `info.variableValues` anew for each one. */
  readonly execution: unknown;
  readonly grants: GrantSet<G>;
  readonly principal: string | null;
  /** Set when grants could not be loaded: every guarded field is denied. */
  readonly loadError: unknown;
  /** Indexed by guard number; `undefined` until the coordinate is first decided. */
  readonly decisions: CachedDecision[];
  /** Where decisions are reported, when the server records them. */
  readonly recorder: DecisionRecorder<G> | undefined;
}

/**
 * Keeps one `OperationState` per (context, execution). Contexts are per operation in every
 * server we support (Apollo per request, graphql-ws per subscribe), so a WeakMap on the context
 * lets the state go with it; a context reused for another execution (even of the same parsed
 * document) gets a fresh state.
 */
export class OperationStates<TContext, G extends GrantLike> {
  readonly #states = new WeakMap<object, OperationState<G>>();
  readonly #pending = new WeakMap<
    object,
    { execution: unknown; promise: Promise<OperationState<G>> }
  >();
  readonly #nextEvent = new WeakMap<object, OperationState<G>>();
  readonly #options: RequiresDirectiveOptions<TContext, G>;
  // The state stored last, checked before the WeakMap since an execution's fields mostly run in a
  // row. It keeps that one context alive until another operation stores its state.
  #lastContext: object | undefined;
  #lastState: OperationState<G> | undefined;

  constructor(options: RequiresDirectiveOptions<TContext, G>) {
    this.#options = options;
  }

  /** The state of the operation `info` belongs to, if it was loaded. */
  current(context: unknown, info: GraphQLResolveInfo): OperationState<G> | undefined {
    let state = this.#lastState;
    if (context !== this.#lastContext || state === undefined) {
      if (context === null || typeof context !== 'object') return undefined;
      state = this.#states.get(context);
      if (state === undefined) return undefined;
      this.#remember(context, state);
    }
    return state.execution === info.variableValues && state.operation === info.operation
      ? state
      : undefined;
  }

  /**
   * Loads grants and principal for the operation, replacing any earlier state of this context.
   * Returns synchronously when `options.grants` does; never rejects (a failure becomes `loadError`).
   */
  load(context: unknown, info: GraphQLResolveInfo): OperationState<G> | Promise<OperationState<G>> {
    if (context !== null && typeof context === 'object') {
      const pending = this.#pending.get(context);
      if (pending !== undefined && pending.execution === info.variableValues)
        return pending.promise;
    }
    let recorder: DecisionRecorder<G> | undefined;
    let gate: GrantGate<G> | undefined;
    const fail = (error: unknown) => this.#store(context, info, [], null, recorder, gate, error);
    if (context === null || typeof context !== 'object') {
      return fail(new Error('The @requires directive needs an object as the GraphQL context.'));
    }
    try {
      recorder = this.#options.decisions?.(context as TContext);
      // Before `grants`: a source may hand out conditional grants only to an operation with a gate.
      gate = this.#options.gate?.(context as TContext);
      const principal = this.#options.principal?.(context as TContext);
      const grants = this.#options.grants(context as TContext);
      if (isPromiseLike(grants) || isPromiseLike(principal)) {
        const promise = Promise.all([grants, principal]).then(
          ([list, id]) => this.#store(context, info, list, id ?? null, recorder, gate, undefined),
          fail,
        );
        this.#pending.set(context, { execution: info.variableValues, promise });
        return promise;
      }
      return this.#store(context, info, grants, principal ?? null, recorder, gate, undefined);
    } catch (error) {
      return fail(error);
    }
  }

  /**
   * Loads the state a subscription's next event is checked against; `adopt` then hands it to
   * that event's execution, so grants are loaded once per event.
   */
  async loadForEvent(context: unknown, info: GraphQLResolveInfo): Promise<OperationState<G>> {
    const state = await this.load(context, info);
    if (context !== null && typeof context === 'object') this.#nextEvent.set(context, state);
    return state;
  }

  /** Makes the state loaded for the next event current for the execution `info` belongs to (once). */
  adopt(context: unknown, info: GraphQLResolveInfo): void {
    if (context === null || typeof context !== 'object') return;
    const state = this.#nextEvent.get(context);
    if (state === undefined || state.operation !== info.operation) return;
    this.#nextEvent.delete(context);
    const adopted = { ...state, execution: info.variableValues, decisions: [] };
    this.#states.set(context, adopted);
    this.#remember(context, adopted);
  }

  #remember(context: object, state: OperationState<G>): void {
    this.#lastContext = context;
    this.#lastState = state;
  }

  #store(
    context: unknown,
    info: GraphQLResolveInfo,
    grants: readonly G[],
    principal: string | null,
    recorder: DecisionRecorder<G> | undefined,
    gate: GrantGate<G> | undefined,
    loadError: unknown,
  ): OperationState<G> {
    const state: OperationState<G> = {
      operation: info.operation,
      execution: info.variableValues,
      grants: new GrantSet(Array.isArray(grants) && loadError === undefined ? grants : [], gate),
      principal,
      loadError,
      decisions: [],
      recorder,
    };
    if (context !== null && typeof context === 'object') {
      this.#states.set(context, state);
      this.#remember(context, state);
      if (this.#pending.get(context)?.execution === info.variableValues)
        this.#pending.delete(context);
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

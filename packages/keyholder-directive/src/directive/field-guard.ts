import { GraphQLError } from 'graphql';
import { evaluateClause, evaluateStatically } from '../authz/decide.js';
import type { GrantLike, GrantSet, ResourceFacts } from '../authz/grant-set.js';
import type { Clause, Requirement } from '../authz/requirement.js';
import { describeClause, readValuePath } from '../authz/requirement.js';
import { ErrorCode } from '../errors.js';
import type { OperationState } from './operation-state.js';

const ALLOW = Symbol('allow');

class Denial {
  constructor(readonly make: () => GraphQLError) {}
}

class PerValue {
  constructor(readonly clauses: readonly Clause[]) {}
}

type Decision = typeof ALLOW | Denial | PerValue;

/**
 * Enforces one field's requirement. Scope-only clauses are decided once per operation (kept in
 * the operation state under `index`); clauses that read a resource or self id are decided per
 * value, in memory.
 */
export class FieldGuard<G extends GrantLike = GrantLike> {
  constructor(
    readonly coordinate: string,
    readonly requirement: Requirement,
    readonly index: number,
    readonly now: () => number,
  ) {}

  /** `null` when the caller may resolve this field for this parent and arguments, else the error. */
  check(
    state: OperationState<G>,
    parent: unknown,
    args: Readonly<Record<string, unknown>>,
  ): GraphQLError | null {
    let decision = state.decisions[this.index] as Decision | undefined;
    if (decision === undefined) {
      decision = this.#plan(state);
      state.decisions[this.index] = decision;
    }
    if (decision === ALLOW) return null;
    if (decision instanceof Denial) return decision.make();
    return this.#perValue(decision, state, parent, args);
  }

  #plan(state: OperationState<G>): Decision {
    const decision = this.#decide(state);
    const recorder = state.recorder;
    if (recorder !== undefined) {
      if (decision instanceof Denial) recorder.denied(this.coordinate, decision.make());
      else if (decision === ALLOW) recorder.allowed(this.coordinate, this.#staticGrants(state));
    }
    return decision;
  }

  #decide(state: OperationState<G>): Decision {
    if (state.loadError !== undefined) {
      return new Denial(() =>
        this.#forbidden(
          `Access to "${this.coordinate}" was denied because the caller's grants could not be loaded.`,
          { reason: 'GRANTS_UNAVAILABLE' },
        ),
      );
    }
    if (this.requirement.authenticated && state.principal === null) {
      return new Denial(
        () =>
          new GraphQLError(`Access to "${this.coordinate}" requires an authenticated caller.`, {
            extensions: { code: ErrorCode.UNAUTHENTICATED, coordinate: this.coordinate },
          }),
      );
    }
    const now = this.now();
    const perValue: Clause[] = [];
    for (const clause of this.requirement.clauses) {
      const outcome = evaluateStatically(clause, state.grants, now);
      if (outcome === 'per-value') perValue.push(clause);
      else if (!outcome.allowed) {
        return new Denial(() => this.#denied(clause, null, state.grants, outcome.missing));
      }
    }
    return perValue.length === 0 ? ALLOW : new PerValue(perValue);
  }

  /** The grants behind an allowed scope-only decision, for the recorder (decided again, once). */
  #staticGrants(state: OperationState<G>): G[] {
    const now = this.now();
    const used: G[] = [];
    for (const clause of this.requirement.clauses) {
      const outcome = evaluateStatically(clause, state.grants, now);
      if (outcome !== 'per-value' && outcome.allowed) used.push(...outcome.grants);
    }
    return used;
  }

  #perValue(
    decision: PerValue,
    state: OperationState<G>,
    parent: unknown,
    args: Readonly<Record<string, unknown>>,
  ): GraphQLError | null {
    const now = this.now();
    const recorder = state.recorder;
    const used: G[] | null = recorder === undefined ? null : [];
    for (const clause of decision.clauses) {
      const values = {
        resource: clause.resource === null ? null : readValuePath(clause.resource, parent, args),
        self: clause.orSelf === null ? null : readValuePath(clause.orSelf, parent, args),
        facts:
          clause.properties === undefined
            ? undefined
            : this.#facts(clause.properties, parent, args),
      };
      const outcome = evaluateClause(clause, state.grants, state.principal, values, now);
      if (!outcome.allowed) {
        const error = this.#denied(clause, values.resource, state.grants, outcome.missing);
        recorder?.denied(this.coordinate, error);
        return error;
      }
      used?.push(...outcome.grants);
    }
    if (used !== null) recorder?.allowed(this.coordinate, used);
    return null;
  }

  /**
   * The resource as conditions see it for one value: the parent type's name as `resourceType`,
   * and each declared property read from its path (one that reads nothing is left out, so a
   * condition reading it errors and denies).
   */
  #facts(
    properties: NonNullable<Clause['properties']>,
    parent: unknown,
    args: Readonly<Record<string, unknown>>,
  ): ResourceFacts {
    const read: Record<string, string> = {};
    for (const { name, path } of properties) {
      const value = readValuePath(path, parent, args);
      if (value !== null) read[name] = value;
    }
    return { type: this.coordinate.split('.')[0] ?? '', properties: read };
  }

  /**
   * The denial of `clause`. When no grant was held at all (not one refused by a condition), it
   * carries `requestAccess`: the scope and resource to ask for with `requestAccess` (the first
   * missing scope; a server may add the policy's TTL, see `RequestAccessHint`).
   */
  #denied(
    clause: Clause,
    resource: string | null,
    grants: GrantSet<G>,
    missing: readonly string[],
  ): GraphQLError {
    const onResource =
      clause.resource === null
        ? ''
        : resource === null
          ? ' on every resource'
          : ` on resource "${resource}"`;
    const orSelf = clause.orSelf === null ? '' : ' (or being the identity it belongs to)';
    const scopes = [...clause.allOf, ...clause.anyOf, ...(clause.anyOfSets ?? []).flat()];
    const why = grants.gate?.explain?.(scopes, clause.resource === null ? null : resource) ?? null;
    return this.#forbidden(
      `Access to "${this.coordinate}" requires ${describeClause(clause)}${onResource}${orSelf}.${
        why === null ? '' : ` A grant was held, but ${why.sentence}`
      }`,
      {
        ...(why === null ? {} : { conditions: why.details }),
        ...(why !== null || missing[0] === undefined
          ? {}
          : {
              requestAccess: {
                scope: missing[0],
                resource: clause.resource === null ? null : resource,
              },
            }),
        required: {
          allOf: clause.allOf,
          anyOf: clause.anyOf,
          ...(clause.anyOfSets === undefined ? {} : { anyOfSets: clause.anyOfSets }),
          resource: clause.resource === null ? null : resource,
          declaredOn: clause.origin,
        },
      },
    );
  }

  #forbidden(message: string, details: Record<string, unknown>): GraphQLError {
    return new GraphQLError(message, {
      extensions: { code: ErrorCode.FORBIDDEN, coordinate: this.coordinate, ...details },
    });
  }
}

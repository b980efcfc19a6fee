import type { GraphQLError } from 'graphql';
import type { ConditionOutcome } from 'keyholder-directive/conditions/condition-outcome.js';
import type { DecisionRecorder } from 'keyholder-directive/directive/decision-recorder.js';
import type { ActiveGrant } from '../grants/live-grants.js';

/** A coordinate that was allowed, and by which grants (none: it needed no scope, or self access). */
export interface AllowedEntry {
  readonly coordinate: string;
  readonly grantIds: readonly string[];
}

/** A coordinate that was denied, why, and for how many values. */
export interface DeniedEntry {
  readonly coordinate: string;
  readonly code: string;
  readonly reason: string;
  readonly count: number;
}

interface Denied {
  code: string;
  reason: string;
  count: number;
  scopes: string[];
}

const MAX_CONDITIONS = 50;

function requiredScopes(error: GraphQLError): string[] {
  const required = error.extensions.required as
    | { allOf?: readonly string[]; anyOf?: readonly string[] }
    | undefined;
  return [...(required?.allOf ?? []), ...(required?.anyOf ?? [])];
}

/**
 * What the directive decided during one operation, gathered for its access event: the coordinates
 * allowed with the grants that allowed them, the coordinates denied with the first reason, and
 * every scope involved. Bookkeeping only: a few map operations per decision.
 */
export class AccessRecord implements DecisionRecorder<ActiveGrant> {
  readonly #allowed = new Map<string, Set<string>>();
  readonly #denied = new Map<string, Denied>();
  readonly #scopes = new Set<string>();
  readonly #conditions = new Map<string, ConditionOutcome & { resource?: string }>();

  allowed(coordinate: string, grants: readonly ActiveGrant[]): void {
    let ids = this.#allowed.get(coordinate);
    if (ids === undefined) {
      ids = new Set();
      this.#allowed.set(coordinate, ids);
    }
    for (const grant of grants) {
      ids.add(grant.id);
      this.#scopes.add(grant.scope);
    }
  }

  denied(coordinate: string, error: GraphQLError): void {
    const seen = this.#denied.get(coordinate);
    if (seen !== undefined) {
      seen.count += 1;
      return;
    }
    const scopes = requiredScopes(error);
    this.#denied.set(coordinate, {
      code: String(error.extensions.code ?? 'FORBIDDEN'),
      reason: error.message,
      count: 1,
      scopes,
    });
    for (const scope of scopes) this.#scopes.add(scope);
  }

  /**
   * Notes that the operation concerned `scope` although no `@requires` decision used it (a `check`
   * or `whoCan` about it, a grant of it), so its access event names it.
   */
  involve(scope: string): void {
    this.#scopes.add(scope);
  }

  /** Records a denial decided outside the directive (a `check` answering no), under `coordinate`. */
  refused(coordinate: string, code: string, reason: string, scopes: readonly string[]): void {
    const seen = this.#denied.get(coordinate);
    if (seen !== undefined) {
      seen.count += 1;
    } else {
      this.#denied.set(coordinate, { code, reason, count: 1, scopes: [...scopes] });
    }
    for (const scope of scopes) this.#scopes.add(scope);
  }

  /**
   * Notes conditions evaluated for this operation's decisions (their outcome, and what a failing
   * one saw), once per grant, source and resource; at most `MAX_CONDITIONS` per event.
   */
  noteConditions(outcomes: readonly ConditionOutcome[], resource: string | null): void {
    for (const outcome of outcomes) {
      if (this.#conditions.size >= MAX_CONDITIONS) return;
      const key = `${outcome.grantId} ${outcome.source} ${resource ?? ''}`;
      if (!this.#conditions.has(key)) {
        this.#conditions.set(key, resource === null ? outcome : { ...outcome, resource });
      }
    }
  }

  /** Whether any scope involved so far is one of `names`. */
  touchesAny(names: ReadonlySet<string>): boolean {
    if (names.size === 0) return false;
    for (const scope of this.#scopes) if (names.has(scope)) return true;
    return false;
  }

  get isEmpty(): boolean {
    return this.#allowed.size === 0 && this.#denied.size === 0 && this.#scopes.size === 0;
  }

  get anyDenied(): boolean {
    return this.#denied.size > 0;
  }

  /**
   * The decisions so far, in a stable order, and clears them (a subscription records in rounds).
   * `deniedOnly` leaves the allowed ones out (and their scopes).
   */
  take(deniedOnly = false): {
    allowed: AllowedEntry[];
    denied: DeniedEntry[];
    scopes: string[];
    conditions: (ConditionOutcome & { resource?: string })[];
  } {
    const allowed = deniedOnly
      ? []
      : [...this.#allowed]
          .map(([coordinate, ids]) => ({ coordinate, grantIds: [...ids].sort() }))
          .sort((a, b) => a.coordinate.localeCompare(b.coordinate));
    const denied = [...this.#denied]
      .map(([coordinate, { code, reason, count }]) => ({ coordinate, code, reason, count }))
      .sort((a, b) => a.coordinate.localeCompare(b.coordinate));
    const scopes = deniedOnly
      ? [...new Set([...this.#denied.values()].flatMap((d) => d.scopes))].sort()
      : [...this.#scopes].sort();
    this.#allowed.clear();
    this.#denied.clear();
    this.#scopes.clear();
    const conditions = [...this.#conditions.values()].filter(
      (c) => !deniedOnly || c.result !== 'TRUE',
    );
    this.#conditions.clear();
    return { allowed, denied, scopes, conditions };
  }
}

import type { GrantGate } from '../authz/grant-set.js';
import type { ActiveGrant } from '../modules/keys/authenticate.js';
import { compileCondition } from './compile-condition.js';
import type { RequestConditions } from './condition-context.js';
import {
  type ConditionOutcome,
  type ConditionSource,
  describeOutcome,
} from './condition-outcome.js';
import type { UsageWindows } from './usage-windows.js';

/** Where evaluated outcomes are reported as they happen (the operation's access record). */
export interface ConditionSink {
  noteConditions(outcomes: readonly ConditionOutcome[], resource: string | null): void;
}

interface Evaluated {
  readonly grant: ActiveGrant;
  readonly resource: string | null;
  readonly outcomes: readonly ConditionOutcome[];
  readonly passed: boolean;
}

/**
 * The conditions of one operation's decisions (or one `check`'s): a grant authorizes only while
 * its own condition, its owner's capping grant's (for agents) and its scope's policy condition all
 * hold, evaluated against the request's context, the resource decided and the grant's recent use.
 * - an unconditional grant passes without any work;
 * - each (grant, resource) is evaluated once per operation and remembered, with its outcomes, for
 *   explanations and the access event;
 * - anything that goes wrong denies: a stored condition that no longer compiles, an evaluation
 *   error, a non-bool result, an evaluation over budget.
 */
export class GrantConditions implements GrantGate<ActiveGrant> {
  readonly #scopeConditions: ReadonlyMap<string, string>;
  readonly #context: () => RequestConditions;
  readonly #usage: UsageWindows | undefined;
  readonly #evaluated = new Map<string, Evaluated>();
  readonly #sink: ConditionSink | undefined;

  constructor(
    scopeConditions: ReadonlyMap<string, string>,
    context: () => RequestConditions,
    usage: UsageWindows | undefined,
    sink?: ConditionSink,
  ) {
    this.#scopeConditions = scopeConditions;
    this.#context = context;
    this.#usage = usage;
    this.#sink = sink;
  }

  admits(grant: ActiveGrant, resource: string | null): boolean {
    const policy = this.#scopeConditions.get(grant.scope);
    if (grant.condition === null && !grant.ownerCondition && policy === undefined) return true;
    const key = resource === null ? grant.id : `${grant.id}\u0000${resource}`;
    const known = this.#evaluated.get(key);
    if (known !== undefined) return known.passed;
    const conditions: [ConditionSource, string][] = [];
    if (grant.condition !== null) conditions.push(['GRANT', grant.condition]);
    if (grant.ownerCondition) conditions.push(['OWNER_GRANT', grant.ownerCondition]);
    if (policy !== undefined) conditions.push(['SCOPE_POLICY', policy]);
    const context = {
      ...this.#context(),
      resource: resource ?? '',
      usage: this.#usage?.counts(grant.id) ?? { lastMinute: 0n, lastHour: 0n },
    };
    const outcomes = conditions.map(([source, expression]) =>
      evaluate(grant, source, expression, context),
    );
    const passed = outcomes.every((outcome) => outcome.result === 'TRUE');
    this.#evaluated.set(key, { grant, resource, outcomes, passed });
    this.#sink?.noteConditions(outcomes, resource);
    return passed;
  }

  explain(
    scopes: readonly string[],
    resource: string | null,
  ): { sentence: string; details: readonly ConditionOutcome[] } | null {
    const refused = this.refusals(scopes, resource);
    if (refused.length === 0) return null;
    return {
      sentence: `${refused.map(describeOutcome).join('; ')}.`,
      details: refused,
    };
  }

  /** The failed outcomes of grants of `scopes` refused for `resource` so far. */
  refusals(scopes: readonly string[], resource: string | null): ConditionOutcome[] {
    const found: ConditionOutcome[] = [];
    for (const entry of this.#evaluated.values()) {
      if (entry.passed || entry.resource !== resource || !scopes.includes(entry.grant.scope)) {
        continue;
      }
      for (const outcome of entry.outcomes) if (outcome.result !== 'TRUE') found.push(outcome);
    }
    return found;
  }

  /** Every outcome evaluated so far, for the access event. */
  outcomes(): ConditionOutcome[] {
    return [...this.#evaluated.values()].flatMap((entry) => entry.outcomes);
  }
}

function evaluate(
  grant: ActiveGrant,
  source: ConditionSource,
  expression: string,
  context: object,
): ConditionOutcome {
  const base = { grantId: grant.id, scope: grant.scope, source, expression };
  let compiled: ReturnType<typeof compileCondition>;
  try {
    compiled = compileCondition(expression, 'grant');
  } catch (error) {
    const why = error instanceof Error ? error.message : 'it does not compile';
    return { ...base, result: 'ERROR', error: `it no longer compiles: ${why}`, values: {} };
  }
  const result = compiled.evaluate(context);
  if (result.passed) return { ...base, result: 'TRUE', error: null, values: {} };
  return {
    ...base,
    result: result.error === null ? 'FALSE' : 'ERROR',
    error: result.error,
    values: compiled.valuesSeen(context),
  };
}

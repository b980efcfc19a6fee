import type { GrantGate } from '../authz/grant-set.js';
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

/** A grant as conditions see it: its own condition and, for a capped agent's, its owner's. */
export interface ConditionalGrant {
  readonly id: string;
  readonly scope: string;
  readonly condition?: string | null;
  readonly ownerCondition?: string | null;
}

interface Evaluated {
  readonly grant: ConditionalGrant;
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
export class GrantConditions<G extends ConditionalGrant = ConditionalGrant>
  implements GrantGate<G>
{
  readonly #policyOf: (grant: G) => string | null | undefined;
  readonly #context: () => RequestConditions;
  readonly #usage: UsageWindows | undefined;
  readonly #evaluated = new Map<string, Evaluated>();
  readonly #sink: ConditionSink | undefined;

  /**
   * - `policyOf`: the scope policy's condition for a grant (read at each evaluation, so it may
   *   change between subscription events);
   * - `context`: the request's part of the context, asked for once, at the first condition;
   * - `usage`: the grants' recent use; absent, every count is 0;
   * - `sink`: hears every evaluation's outcomes.
   */
  constructor(
    policyOf: (grant: G) => string | null | undefined,
    context: () => RequestConditions,
    usage: UsageWindows | undefined,
    sink?: ConditionSink,
  ) {
    this.#policyOf = policyOf;
    this.#context = context;
    this.#usage = usage;
    this.#sink = sink;
  }

  admits(grant: G, resource: string | null): boolean {
    const policy = this.#policyOf(grant);
    if (!grant.condition && !grant.ownerCondition && !policy) return true;
    const key = resource === null ? grant.id : `${grant.id}\u0000${resource}`;
    const known = this.#evaluated.get(key);
    if (known !== undefined) return known.passed;
    const conditions: [ConditionSource, string][] = [];
    if (grant.condition) conditions.push(['GRANT', grant.condition]);
    if (grant.ownerCondition) conditions.push(['OWNER_GRANT', grant.ownerCondition]);
    if (policy) conditions.push(['SCOPE_POLICY', policy]);
    let outcomes: ConditionOutcome[];
    try {
      const context = {
        ...this.#context(),
        resource: resource ?? '',
        usage: this.#usage?.counts(grant.id) ?? { lastMinute: 0n, lastHour: 0n },
      };
      outcomes = conditions.map(([source, expression]) =>
        evaluate(grant, source, expression, context),
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      outcomes = conditions.map(([source, expression]) => ({
        grantId: grant.id,
        scope: grant.scope,
        source,
        expression,
        result: 'ERROR' as const,
        error: `the condition context could not be built: ${why.slice(0, 200)}`,
        values: {},
      }));
    }
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
  grant: ConditionalGrant,
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

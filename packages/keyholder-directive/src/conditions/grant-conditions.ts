import type { GrantGate } from '../authz/grant-set.js';
import { compileCondition } from './compile-condition.js';
import {
  type ConditionContext,
  NO_RESOURCE_FACTS,
  type RequestConditions,
  type ResourceFacts,
} from './condition-context.js';
import {
  type ConditionOutcome,
  type ConditionSource,
  describeOutcome,
} from './condition-outcome.js';
import type { UsageCounts, UsageWindows } from './usage-windows.js';

const NO_USE: UsageCounts = { lastMinute: 0n, lastHour: 0n };

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
  /** `undefined`: decided for every resource at once (no condition of the grant reads it). */
  readonly resource: string | null | undefined;
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
  // A grant's recent use, read once per operation: the operation's own uses are counted after it.
  readonly #counts = new Map<string, UsageCounts>();
  readonly #sink: ConditionSink | undefined;
  readonly #facts: ResourceFacts;

  /**
   * - `policyOf`: the scope policy's condition for a grant (read at each evaluation, so it may
   *   change between subscription events);
   * - `context`: the request's part of the context, asked for once, at the first condition;
   * - `usage`: the grants' recent use; absent, every count is 0;
   * - `sink`: hears every evaluation's outcomes;
   * - `facts`: the resource's type and properties as the enforcement point described them, the
   *   same for every decision of this gate (one gate per AuthZEN evaluation or `check`).
   */
  constructor(
    policyOf: (grant: G) => string | null | undefined,
    context: () => RequestConditions,
    usage: UsageWindows | undefined,
    sink?: ConditionSink,
    facts: ResourceFacts = NO_RESOURCE_FACTS,
  ) {
    this.#policyOf = policyOf;
    this.#context = context;
    this.#usage = usage;
    this.#sink = sink;
    this.#facts = facts;
  }

  admits(grant: G, resource: string | null, facts?: ResourceFacts): boolean {
    const policy = this.#policyOf(grant);
    if (!grant.condition && !grant.ownerCondition && !policy) return true;
    const conditions: [ConditionSource, string][] = [];
    if (grant.condition) conditions.push(['GRANT', grant.condition]);
    if (grant.ownerCondition) conditions.push(['OWNER_GRANT', grant.ownerCondition]);
    if (policy) conditions.push(['SCOPE_POLICY', policy]);
    const decidedFacts = facts ?? this.#facts;
    const perResource =
      (resource !== null || facts !== undefined) &&
      conditions.some(([, text]) => readsResource(text));
    const key = perResource
      ? `${grant.id}\u0000${resource ?? ''}${facts === undefined ? '' : `\u0000${factsKey(facts)}`}`
      : grant.id;
    const known = this.#evaluated.get(key);
    if (known !== undefined) return known.passed;
    let outcomes: ConditionOutcome[];
    try {
      const base = this.#context();
      // Spelled out: an object spread here cost more than the evaluation itself.
      const context: ConditionContext = {
        request: base.request,
        device: base.device,
        identity: base.identity,
        token: base.token,
        resource: resource ?? '',
        resourceType: decidedFacts.type,
        properties: decidedFacts.properties,
        usage: this.#countsOf(grant.id),
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
    this.#evaluated.set(key, {
      grant,
      resource: perResource ? resource : undefined,
      outcomes,
      passed,
    });
    this.#sink?.noteConditions(outcomes, perResource ? resource : null);
    return passed;
  }

  #countsOf(grantId: string): UsageCounts {
    if (this.#usage === undefined) return NO_USE;
    let counts = this.#counts.get(grantId);
    if (counts === undefined) {
      counts = this.#usage.counts(grantId);
      this.#counts.set(grantId, counts);
    }
    return counts;
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
      if (
        entry.passed ||
        (entry.resource !== undefined && entry.resource !== resource) ||
        !scopes.includes(entry.grant.scope)
      ) {
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

/** A key telling apart the facts of two decisions on the same grant and resource. */
function factsKey(facts: ResourceFacts): string {
  return `${facts.type}\u0000${JSON.stringify(facts.properties)}`;
}

/** Whether `text` reads `resource` (a text that does not compile is treated as if it did). */
function readsResource(text: string): boolean {
  try {
    return compileCondition(text, 'grant').readsResource;
  } catch {
    return true;
  }
}

function evaluate(
  grant: ConditionalGrant,
  source: ConditionSource,
  expression: string,
  context: object,
): ConditionOutcome {
  let compiled: ReturnType<typeof compileCondition>;
  try {
    compiled = compileCondition(expression, 'grant');
  } catch (error) {
    const why = error instanceof Error ? error.message : 'it does not compile';
    return outcome(grant, source, expression, 'ERROR', `it no longer compiles: ${why}`, {});
  }
  const result = compiled.evaluate(context);
  if (result.passed) return outcome(grant, source, expression, 'TRUE', null, NOTHING_SEEN);
  return outcome(
    grant,
    source,
    expression,
    result.error === null ? 'FALSE' : 'ERROR',
    result.error,
    compiled.valuesSeen(context),
  );
}

const NOTHING_SEEN: Readonly<Record<string, unknown>> = Object.freeze({});

// Built field by field: on this path an object spread costs more than evaluating the condition.
function outcome(
  grant: ConditionalGrant,
  source: ConditionSource,
  expression: string,
  result: ConditionOutcome['result'],
  error: string | null,
  values: Readonly<Record<string, unknown>>,
): ConditionOutcome {
  return { grantId: grant.id, scope: grant.scope, source, expression, result, error, values };
}

import type { ParseResult } from '@marcbachmann/cel-js';

/** A member chain the expression reads, such as `request.headers["x-team"]`, and how to read it. */
export interface ReadPath {
  /** The expression's own text for it, used as the label in explanations. */
  readonly label: string;
  readonly keys: readonly string[];
}

/** How one evaluation went. `error` is set when, and only when, it errored (and so denied). */
export interface ConditionResult {
  readonly passed: boolean;
  readonly error: string | null;
}

/** Evaluations slower than this deny (CEL cannot be interrupted, so it is checked afterwards). */
export const EVALUATION_BUDGET_MS = 5;

/**
 * A condition parsed and type-checked once, evaluated per decision.
 * - a result other than `true` denies; so does any error (missing key, type mismatch, bad range);
 * - an evaluation over `budgetMs` (`EVALUATION_BUDGET_MS` unless given) denies, saying so. The
 *   budget is wall-clock time, so a loaded machine can exceed it with any condition.
 */
export class CompiledCondition {
  constructor(
    readonly text: string,
    readonly program: ParseResult,
    readonly paths: readonly ReadPath[],
  ) {}

  evaluate(context: object, budgetMs = EVALUATION_BUDGET_MS): ConditionResult {
    const started = performance.now();
    let value: unknown;
    try {
      value = this.program(context);
    } catch (error) {
      return { passed: false, error: evaluationMessage(error) };
    }
    const took = performance.now() - started;
    if (took > budgetMs) {
      return {
        passed: false,
        error: `evaluation took ${took.toFixed(1)} ms, over the ${budgetMs} ms budget`,
      };
    }
    if (value === true) return { passed: true, error: null };
    if (value === false) return { passed: false, error: null };
    return { passed: false, error: `it returned ${typeof value}, not a bool` };
  }

  /** The values the expression read, as JSON-safe values, by label; a missing one is `null`. */
  valuesSeen(context: object): Record<string, unknown> {
    const seen: Record<string, unknown> = {};
    for (const path of this.paths) seen[path.label] = toJsonSafe(readPath(context, path.keys), 0);
    return seen;
  }
}

function evaluationMessage(error: unknown): string {
  if (error instanceof Error) {
    const summary = (error as { summary?: unknown }).summary;
    const text = typeof summary === 'string' ? summary : (error.message.split('\n')[0] ?? '');
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  }
  return 'it failed';
}

function readPath(context: object, keys: readonly string[]): unknown {
  let value: unknown = context;
  for (const key of keys) {
    if (value instanceof Map) value = value.get(key);
    else if (value !== null && typeof value === 'object' && Object.hasOwn(value, key)) {
      value = (value as Record<string, unknown>)[key];
    } else return undefined;
  }
  return value;
}

function toJsonSafe(value: unknown, depth: number): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === 'string') return value.length > 200 ? `${value.slice(0, 200)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= 3) return '…';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => toJsonSafe(v, depth + 1));
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  return Object.fromEntries(
    entries.slice(0, 20).map(([k, v]) => [String(k), toJsonSafe(v, depth + 1)]),
  );
}

import type { ASTNode, ParseResult } from '@marcbachmann/cel-js';
import { MAX_LIST_ELEMENTS, OversizedList } from './cel-value.js';

const RESOURCE_VARIABLES = new Set(['resource', 'resourceType', 'properties']);

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

/**
 * A condition parsed and type-checked once, evaluated per decision.
 * - a result other than `true` denies; so does any error (missing key, type mismatch, bad range,
 *   a list over `MAX_LIST_ELEMENTS`).
 * - Evaluation is bounded by construction rather than by a clock (which would deny at random on a
 *   busy machine): at most 300 nodes, list macros never nested, lists of at most 500 elements, so
 *   one evaluation does at most about 150,000 steps, and a typical one well under a microsecond.
 */
export class CompiledCondition {
  /**
   * Whether it reads the resource (`resource`, `resourceType` or `properties`): only then can its
   * result differ between resources.
   */
  readonly readsResource: boolean;

  constructor(
    readonly text: string,
    readonly program: ParseResult,
    readonly paths: readonly ReadPath[],
  ) {
    this.readsResource = paths.some((path) => RESOURCE_VARIABLES.has(path.keys[0] ?? ''));
  }

  #conjuncts: ReadonlySet<string> | undefined;

  /**
   * The conditions it requires all of: the operands of its top-level `&&` chain, each as its
   * syntax tree without positions (so parentheses and spacing aside): `(a) && (b || c)` gives
   * `a` and `b || c`.
   * A condition that is no `&&` is its one conjunct. What it allows, each of them allows.
   */
  get conjuncts(): ReadonlySet<string> {
    if (this.#conjuncts === undefined) {
      const found = new Set<string>();
      const visit = (node: ASTNode) => {
        if (node.op === '&&') for (const operand of node.args as ASTNode[]) visit(operand);
        else found.add(structureOf(node));
      };
      visit(this.program.ast);
      this.#conjuncts = found;
    }
    return this.#conjuncts;
  }

  evaluate(context: object): ConditionResult {
    let value: unknown;
    try {
      value = this.program(context);
    } catch (error) {
      return { passed: false, error: evaluationMessage(error) };
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

// Only `op` and `args` (nodes also carry positions and, once checked, types). The library's own
// `serialize` cannot be imported ahead of its main module (an import cycle).
function structureOf(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(structureOf).join(',')}]`;
  if (value !== null && typeof value === 'object' && 'op' in value && 'args' in value) {
    const node = value as { op: string; args: unknown };
    return `${node.op}(${structureOf(node.args)})`;
  }
  if (typeof value === 'bigint') return `${value}n`;
  // Literal objects (uint, bytes) by type and value, so `1u` and `2u` stay apart.
  if (value !== null && typeof value === 'object')
    return `${value.constructor.name}:${String(value)}`;
  return JSON.stringify(value) ?? String(value);
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
  if (value instanceof OversizedList) {
    return `(a list of ${value.length} elements, over the ${MAX_LIST_ELEMENTS} a condition may read)`;
  }
  if (depth >= 3) return '…';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => toJsonSafe(v, depth + 1));
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  return Object.fromEntries(
    entries.slice(0, 20).map(([k, v]) => [String(k), toJsonSafe(v, depth + 1)]),
  );
}

import type { ASTNode, ParseResult } from '@marcbachmann/cel-js';
import { badUserInput } from '../errors.js';
import { isCidrRange } from './cidr.js';
import { CompiledCondition, type ReadPath } from './compiled-condition.js';
import {
  type ConditionKind,
  environmentOf,
  RE2_MATCHES,
  VARIABLES,
} from './condition-environments.js';
import { re2Pattern } from './re2-matches.js';

/** The longest condition accepted, in characters. */
export const MAX_CONDITION_LENGTH = 2_000;
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const MAX_CACHED = 10_000;

const cache: Record<ConditionKind, Map<string, CompiledCondition>> = {
  grant: new Map(),
  autoApproval: new Map(),
};

/** Where in a condition a problem is: offset from 0, line and column from 1. */
export interface ConditionPosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** Why a condition was refused, with where (when the problem has a place). */
export class ConditionProblem extends Error {
  constructor(
    message: string,
    readonly position: ConditionPosition | null,
  ) {
    super(message);
  }
}

/**
 * A condition ready to evaluate: parsed, type-checked against its kind's variables, compiled
 * once per distinct text and kept. Throws `ConditionProblem` for a syntax error, an unknown
 * variable or field, a type error, a result other than `bool`, nested list macros, an invalid
 * literal CIDR range or a text over `MAX_CONDITION_LENGTH`.
 */
export function compileCondition(text: string, kind: ConditionKind): CompiledCondition {
  const known = cache[kind].get(text);
  if (known !== undefined) return known;
  if (text.length > MAX_CONDITION_LENGTH) {
    throw new ConditionProblem(`it is longer than ${MAX_CONDITION_LENGTH} characters`, null);
  }
  const environment = environmentOf(kind);
  let program: ParseResult;
  let written: ParseResult;
  try {
    written = environment.parse(text);
    inspect(written.ast, text, 0);
    // CEL's `matches` runs on RE2 (linear time), never on the library's backtracking RegExp.
    const rewritten = withRe2Matches(text, written.ast, environment);
    program = rewritten === text ? written : environment.parse(rewritten);
  } catch (error) {
    throw error instanceof ConditionProblem ? error : problemOf(error, text);
  }
  const checked = program.check();
  if (!checked.valid) throw problemOf(checked.error, text);
  if (checked.type !== 'bool') {
    throw new ConditionProblem(
      `it must evaluate to a bool, but evaluates to ${String(checked.type)}${
        String(checked.type) === 'dyn' ? ' (compare it, e.g. `… == true`)' : ''
      }`,
      positionAt(text, 0),
    );
  }
  const compiled = new CompiledCondition(text, program, readPaths(written.ast, text, kind));
  if (cache[kind].size >= MAX_CACHED) cache[kind].clear();
  cache[kind].set(text, compiled);
  return compiled;
}

/**
 * A condition argument as stored: `null` when absent or blank, else its trimmed text after
 * `compileCondition` accepted it. A refused one is `BAD_USER_INPUT` naming `field` and the position.
 */
export function requireCondition(
  raw: string | null | undefined,
  field: string,
  kind: ConditionKind = 'grant',
): string | null {
  if (raw === null || raw === undefined) return null;
  const text = raw.trim();
  if (text === '') return null;
  try {
    compileCondition(text, kind);
    return text;
  } catch (error) {
    if (!(error instanceof ConditionProblem)) throw error;
    const where =
      error.position === null
        ? ''
        : ` at line ${error.position.line}, column ${error.position.column}`;
    throw badUserInput(
      `The ${field} is not valid CEL${where}: ${error.message}. Conditions are CEL over ${VARIABLES[
        kind
      ].join(', ')}.`,
      { field, position: error.position },
    );
  }
}

function problemOf(error: unknown, text: string): ConditionProblem {
  if (error instanceof Error) {
    const node = (error as { node?: { pos?: number; start?: number } }).node;
    const offset = node?.pos ?? node?.start;
    const summary = (error as { summary?: unknown }).summary;
    const message =
      typeof summary === 'string' ? summary : (error.message.split('\n')[0] ?? 'it is invalid');
    return new ConditionProblem(
      lowerFirst(message),
      typeof offset === 'number' ? positionAt(text, offset) : null,
    );
  }
  return new ConditionProblem('it is invalid', null);
}

function lowerFirst(text: string): string {
  return text.length > 0 ? text[0]?.toLowerCase() + text.slice(1) : text;
}

function positionAt(text: string, offset: number): ConditionPosition {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { offset, line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

function nodePosition(node: ASTNode, text: string): ConditionPosition {
  const at = (node as { pos?: number }).pos ?? 0;
  return positionAt(text, at);
}

/** Refuses what the type checker allows but we do not: nested list macros, bad literal ranges. */
function inspect(node: ASTNode, text: string, macroDepth: number): void {
  const { op, args } = node as { op: string; args: unknown };
  if (op === 'rcall') {
    const [name, receiver, params] = args as [string, ASTNode, ASTNode[]];
    const isMacro = MACROS.has(name);
    if (isMacro && macroDepth >= 1) {
      throw new ConditionProblem(
        `list macros such as "${name}" cannot be nested (evaluation must stay bounded)`,
        nodePosition(node, text),
      );
    }
    if (name === 'matches') checkPattern(params[0], text);
    inspect(receiver, text, macroDepth);
    for (const param of params) inspect(param, text, isMacro ? macroDepth + 1 : macroDepth);
    return;
  }
  if (op === 'call') {
    const [name, params] = args as [string, ASTNode[]];
    if (name === 'cidr') checkRanges(params[1], text);
    if (name === RE2_MATCHES) checkPattern(params[1], text);
    for (const param of params) inspect(param, text, macroDepth);
    return;
  }
  for (const child of childrenOf(node)) inspect(child, text, macroDepth);
}

/** A literal `matches` pattern must be RE2 (no lookarounds or backreferences) and short. */
function checkPattern(node: ASTNode | undefined, text: string): void {
  if (node === undefined || node.op !== 'value' || typeof node.args !== 'string') return;
  try {
    re2Pattern(node.args);
  } catch (error) {
    throw new ConditionProblem((error as Error).message, nodePosition(node, text));
  }
}

/**
 * `text` with every `x.matches(p)` written `re2_matches(x, p)` (the same meaning, evaluated with
 * RE2), innermost first; `text` itself when it has none.
 */
function withRe2Matches(
  text: string,
  ast: ASTNode,
  environment: ReturnType<typeof environmentOf>,
): string {
  let current = text;
  let node = firstMatches(ast);
  for (let guard = 0; node !== null && guard < 100; guard += 1) {
    const [, receiver, params] = node.args as [string, ASTNode, ASTNode[]];
    const span = (n: ASTNode) => {
      const { start, end } = n as { start: number; end: number };
      return current.slice(start, end);
    };
    const param = params[0];
    if (param === undefined) return current;
    const { start, end } = node as { start: number; end: number };
    current = `${current.slice(0, start)}${RE2_MATCHES}(${span(receiver)}, ${span(param)})${current.slice(end)}`;
    node = firstMatches(environment.parse(current).ast);
  }
  return current;
}

function firstMatches(node: ASTNode): ASTNode | null {
  const { op, args } = node as { op: string; args: unknown };
  if (op === 'rcall') {
    const [name, receiver, params] = args as [string, ASTNode, ASTNode[]];
    for (const child of [receiver, ...params]) {
      const inner = firstMatches(child);
      if (inner !== null) return inner;
    }
    return name === 'matches' ? node : null;
  }
  if (op === 'call') {
    for (const param of (args as [string, ASTNode[]])[1]) {
      const inner = firstMatches(param);
      if (inner !== null) return inner;
    }
    return null;
  }
  for (const child of childrenOf(node)) {
    const inner = firstMatches(child);
    if (inner !== null) return inner;
  }
  return null;
}

function checkRanges(node: ASTNode | undefined, text: string): void {
  if (node === undefined) return;
  const literals =
    node.op === 'value' ? [node] : node.op === 'list' ? (node.args as ASTNode[]) : [];
  for (const literal of literals) {
    const value = literal.op === 'value' ? literal.args : null;
    if (typeof value === 'string' && !isCidrRange(value)) {
      throw new ConditionProblem(
        `"${value}" is not a CIDR range such as "10.0.0.0/8" or "2001:db8::/32"`,
        nodePosition(literal, text),
      );
    }
  }
}

function childrenOf(node: ASTNode): ASTNode[] {
  const { args } = node as { args: unknown };
  const found: ASTNode[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) for (const item of value) visit(item);
    else if (value !== null && typeof value === 'object' && 'op' in value) {
      found.push(value as ASTNode);
    }
  };
  visit(args);
  return found;
}

/** The longest member chains rooted at a variable (`request.ip`, `token.claims.amr`), once each. */
function readPaths(root: ASTNode, text: string, kind: ConditionKind): ReadPath[] {
  const variables = new Set(VARIABLES[kind]);
  const found = new Map<string, ReadPath>();
  const visit = (node: ASTNode) => {
    const keys = chainOf(node);
    if (keys !== null && variables.has(keys[0] as string)) {
      const { start, end } = node as { start?: number; end?: number };
      const label =
        typeof start === 'number' && typeof end === 'number'
          ? text.slice(start, end)
          : keys.join('.');
      if (!found.has(label)) found.set(label, { label, keys });
      return;
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(root);
  return [...found.values()];
}

/** `request.headers["x"]` as `['request', 'headers', 'x']`; `null` when not a plain chain. */
function chainOf(node: ASTNode): string[] | null {
  const { op, args } = node as { op: string; args: unknown };
  if (op === 'id') return [args as string];
  if (op === '.' || op === '.?') {
    const [inner, key] = args as [ASTNode, string];
    const keys = chainOf(inner);
    return keys === null ? null : [...keys, key];
  }
  if (op === '[]' || op === '[?]') {
    const [inner, index] = args as [ASTNode, ASTNode];
    const keys = chainOf(inner);
    if (keys === null || index.op !== 'value' || typeof index.args !== 'string') return null;
    return [...keys, index.args];
  }
  return null;
}

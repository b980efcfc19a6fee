import { type Clause, parseValuePath, type ValuePath } from '../authz/requirement.js';
import { parseScopeName } from '../authz/scope-name.js';
import type { Declaration } from './declarations.js';

/** Something about a declaration that cannot be enforced; `scope` is set for a malformed scope name. */
export interface RequirementProblem {
  readonly message: string;
  readonly scope?: string;
}

/** What a `@requires` or `@requiresScopes` usage requires, and what is wrong with it. */
export interface ReadClause {
  /** `null` when nothing enforceable can be read (no scope at all, arguments of the wrong shape). */
  readonly clause: Clause | null;
  /** Empty when the declaration can be enforced as written. */
  readonly problems: readonly RequirementProblem[];
}

const NOT_A_SCOPE =
  'which is not a scope: use <resource>:<action> with action read, write or execute.';

/** Reads one `@requires` or `@requiresScopes` declaration (`@authenticated` has no clause). */
export function readClause(declaration: Declaration): ReadClause {
  return declaration.kind === 'requiresScopes'
    ? readRequiresScopes(declaration)
    : readRequires(declaration);
}

function scopeProblems(directive: string, origin: string, scopes: Iterable<string>) {
  const problems: RequirementProblem[] = [];
  for (const scope of scopes) {
    if (parseScopeName(scope) === null) {
      problems.push({
        message: `${directive} on ${origin} names "${scope}", ${NOT_A_SCOPE}`,
        scope,
      });
    }
  }
  return problems;
}

function readPath(
  text: unknown,
  argument: string,
  { origin, field }: Declaration,
  problems: RequirementProblem[],
): ValuePath | null {
  if (text === null || text === undefined) return null;
  const path = typeof text === 'string' ? parseValuePath(text) : null;
  const quoted = JSON.stringify(text);
  if (path === null) {
    problems.push({
      message: `@requires(${argument}: ${quoted}) on ${origin} is not a path: use "args.<name>" or "parent.<field>".`,
    });
    return null;
  }
  if (path.from === 'args') {
    if (field === null) {
      problems.push({
        message: `@requires(${argument}: ${quoted}) on ${origin} reads an argument, but type-level requirements apply to fields with different arguments; use "parent.<field>".`,
      });
    } else if (!field.args.some((a) => a.name === path.keys[0])) {
      problems.push({
        message: `@requires(${argument}: ${quoted}) on ${origin} reads argument "${path.keys[0]}", which the field does not have.`,
      });
    }
  }
  return path;
}

const PROPERTY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_PROPERTIES = 20;

/** `properties: { ownerId: "parent.ownerId" }`: each name read from a path, for conditions. */
function readProperties(
  value: unknown,
  declaration: Declaration,
  problems: RequirementProblem[],
): { name: string; path: ValuePath }[] {
  if (value === null || value === undefined) return [];
  const { origin } = declaration;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({
      message: `@requires(properties:) on ${origin} must be an object of names to paths, such as { ownerId: "parent.ownerId" }.`,
    });
    return [];
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_PROPERTIES) {
    problems.push({
      message: `@requires(properties:) on ${origin} names ${entries.length} properties; at most ${MAX_PROPERTIES} are allowed.`,
    });
    return [];
  }
  const found: { name: string; path: ValuePath }[] = [];
  for (const [name, text] of entries) {
    if (!PROPERTY_NAME.test(name)) {
      problems.push({
        message: `@requires(properties:) on ${origin} names property "${name.slice(0, 64)}": use letters, digits and _.`,
      });
      continue;
    }
    const path = readPath(text, `properties.${name}`, declaration, problems);
    if (path !== null) found.push({ name, path });
  }
  return found;
}

function strings(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((s): s is string => typeof s === 'string');
}

function readRequires(declaration: Declaration): ReadClause {
  const { args, origin } = declaration;
  const allOf = [...new Set([...strings(args.scope), ...strings(args.allOf)])];
  const anyOf = [...new Set(strings(args.anyOf))];
  const problems = scopeProblems('@requires', origin, [...allOf, ...anyOf]);
  if (allOf.length === 0 && anyOf.length === 0) {
    problems.push({
      message: `@requires on ${origin} names no scope: give scope, allOf or anyOf (use @authenticated for "any caller").`,
    });
  }
  const resource = readPath(args.resource, 'resource', declaration, problems);
  const orSelf = readPath(args.orSelf, 'orSelf', declaration, problems);
  const properties = readProperties(args.properties, declaration, problems);
  if (allOf.length === 0 && anyOf.length === 0) return { clause: null, problems };
  return {
    clause: {
      allOf,
      anyOf,
      resource,
      orSelf,
      origin,
      ...(properties.length > 0 ? { properties } : {}),
    },
    problems,
  };
}

/**
 * `@requiresScopes(scopes: [[…]])`: the outer list is OR, each inner list AND. Normalised so a
 * single set reads as `allOf`, sets of one scope each as `anyOf`, anything else as `anyOfSets`
 * (a set that contains another is dropped: it adds nothing to the OR).
 */
function readRequiresScopes({ args, origin }: Declaration): ReadClause {
  const shape = `@requiresScopes on ${origin} needs scopes: a list of lists of scope names`;
  const outer = args.scopes;
  if (!Array.isArray(outer) || !outer.every((inner) => Array.isArray(inner))) {
    return { clause: null, problems: [{ message: `${shape}, such as [["orders:read"]].` }] };
  }
  const sets = (outer as unknown[][]).map((inner) => [...new Set(strings(inner))]);
  const problems = scopeProblems('@requiresScopes', origin, new Set(sets.flat()));
  if (sets.length === 0) {
    problems.push({
      message: `@requiresScopes on ${origin} names no scope: an empty list would let nobody through (use @authenticated for "any caller").`,
    });
    return { clause: null, problems };
  }
  if (sets.some((set) => set.length === 0)) {
    problems.push({
      message: `@requiresScopes on ${origin} has an empty scope list, which would let any caller through: remove it, or use @authenticated for "any caller".`,
    });
    return { clause: null, problems };
  }
  const kept = sets.filter(
    (set, i) =>
      !sets.some(
        (other, j) =>
          j !== i && other.every((s) => set.includes(s)) && (other.length < set.length || j < i),
      ),
  );
  const base = { resource: null, orSelf: null, origin };
  if (kept.length === 1) return { clause: { ...base, allOf: kept[0] ?? [], anyOf: [] }, problems };
  if (kept.every((set) => set.length === 1)) {
    return { clause: { ...base, allOf: [], anyOf: kept.flat() }, problems };
  }
  return { clause: { ...base, allOf: [], anyOf: [], anyOfSets: kept }, problems };
}

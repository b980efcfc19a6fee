/** Where a value used by a requirement comes from: `args.<name>` or `parent.<field>` (dots go deeper). */
export interface ValuePath {
  readonly from: 'args' | 'parent';
  readonly keys: readonly string[];
  readonly text: string;
}

/**
 * One `@requires` (or `@requiresScopes`) as declared on a field, a type or an interface.
 * - every scope in `allOf` must be held, and at least one of `anyOf` when it is not empty;
 * - `anyOfSets`, when present and not empty: every scope of at least one of these sets must be
 *   held (an OR of ANDs, as `@requiresScopes(scopes: [["a:read", "b:read"], ["c:read"]])` says);
 * - `resource`: the scopes must cover that value (a grant without resource covers every value);
 * - `orSelf`: the clause also holds when that value is the caller's identity id.
 */
export interface Clause {
  readonly allOf: readonly string[];
  readonly anyOf: readonly string[];
  readonly anyOfSets?: readonly (readonly string[])[];
  readonly resource: ValuePath | null;
  readonly orSelf: ValuePath | null;
  /**
   * The resource's properties conditions read (`properties.<name>`), each from a path; decided
   * per value, with the parent type's name as `resourceType`.
   */
  readonly properties?: readonly { readonly name: string; readonly path: ValuePath }[];
  /** Where it was declared, for messages: `Order.total` or `type Order`. */
  readonly origin: string;
}

/** Everything a field requires: all clauses hold (AND), and a caller when `authenticated`. */
export interface Requirement {
  readonly authenticated: boolean;
  readonly clauses: readonly Clause[];
}

const PATH_PATTERN = /^(args|parent)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/;

/** Parses `args.x` / `parent.y.z`; `null` when malformed. */
export function parseValuePath(text: string): ValuePath | null {
  const match = PATH_PATTERN.exec(text);
  if (match === null) return null;
  return {
    from: match[1] as 'args' | 'parent',
    keys: (match[2] as string).slice(1).split('.'),
    text,
  };
}

/**
 * Reads a path against a resolver's parent and arguments.
 * - strings are returned as they are, finite numbers and bigints as their decimal text;
 * - anything else (missing, null, objects, lists) is `null`: only grants without resource cover it.
 */
export function readValuePath(
  path: ValuePath,
  parent: unknown,
  args: Readonly<Record<string, unknown>>,
): string | null {
  let value: unknown = path.from === 'args' ? args : parent;
  for (const key of path.keys) {
    if (value === null || typeof value !== 'object') return null;
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  return null;
}

/**
 * The requirement in words, for `FORBIDDEN` messages: `scope "a:read" and one of "b:read", "c:read"`,
 * or `one of ("a:read" and "b:read") or ("c:read")` for sets.
 */
export function describeClause(clause: Clause): string {
  const parts: string[] = [];
  if (clause.allOf.length > 0) {
    const names = clause.allOf.map((s) => `"${s}"`).join(', ');
    parts.push(clause.allOf.length === 1 ? `scope ${names}` : `scopes ${names}`);
  }
  if (clause.anyOf.length > 0) {
    parts.push(`one of ${clause.anyOf.map((s) => `"${s}"`).join(', ')}`);
  }
  if (clause.anyOfSets !== undefined && clause.anyOfSets.length > 0) {
    const sets = clause.anyOfSets.map((set) => `(${set.map((s) => `"${s}"`).join(' and ')})`);
    parts.push(`one of ${sets.join(' or ')}`);
  }
  return parts.join(' and ');
}

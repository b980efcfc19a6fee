import { parse } from 'scim2-parse-filter';
import { MAX_PATCH_OPERATIONS } from './scim-patch.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Members a PATCH adds and removes, each id in one list (the last operation naming it wins). */
export interface MemberDelta {
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

/** The ids of a `[{ "value": "<id>" }]` list; `null` when it is not one. */
function valuesOf(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const ids = value.map((v) => (v as { value?: unknown } | null)?.value);
  return ids.every((id) => typeof id === 'string' && id !== '')
    ? (ids as string[]).map((id) => id.toLowerCase())
    : null;
}

/** The id of a `members[value eq "<id>"]` path (parsed by scim2-parse-filter); else `null`. */
function filteredMember(path: string): string | null {
  let filter: ReturnType<typeof parse>;
  try {
    filter = parse(path);
  } catch {
    return null;
  }
  if (filter.op !== '[]' || !('valFilter' in filter)) return null;
  if (filter.attrPath.toLowerCase() !== 'members') return null;
  const inner = filter.valFilter;
  return inner.op === 'eq' &&
    'compValue' in inner &&
    inner.attrPath.toLowerCase() === 'value' &&
    typeof inner.compValue === 'string'
    ? inner.compValue.toLowerCase()
    : null;
}

/**
 * The members a group PATCH adds and removes when it does nothing else: every operation an
 * `add`/`remove` of `members` with a `[{value}]` list, or a `remove` of `members[value eq "…"]`
 * (what Okta and Entra send to keep a pushed group in step). Such a PATCH is applied without
 * reading the group's other members, whatever their number. `null` for any other PATCH (it is
 * applied to the whole resource instead).
 */
export function memberDelta(body: unknown): MemberDelta | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const { schemas, Operations: operations } = body as { schemas?: unknown; Operations?: unknown };
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_OP)) return null;
  if (!Array.isArray(operations) || operations.length === 0) return null;
  if (operations.length > MAX_PATCH_OPERATIONS) return null;
  const last = new Map<string, 'add' | 'remove'>();
  for (const operation of operations as unknown[]) {
    const { op, path, value } = (operation ?? {}) as {
      op?: unknown;
      path?: unknown;
      value?: unknown;
    };
    if (typeof op !== 'string' || typeof path !== 'string') return null;
    const kind = op.toLowerCase();
    if (kind !== 'add' && kind !== 'remove') return null;
    if (path.toLowerCase() === 'members') {
      const ids = valuesOf(value);
      if (ids === null) return null;
      for (const id of ids) last.set(id, kind);
      continue;
    }
    const id = kind === 'remove' && value === undefined ? filteredMember(path) : null;
    if (id === null) return null;
    last.set(id, 'remove');
  }
  const add: string[] = [];
  const remove: string[] = [];
  for (const [id, kind] of last) (kind === 'add' ? add : remove).push(id);
  return { add, remove };
}

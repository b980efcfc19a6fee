import type { AuditDecision, AuditFilter } from '../gql/graphql';

/** The live audit page's state, as its URL carries it (so it can be linked to). */
export interface AuditView {
  readonly filter: AuditFilter;
  /** Access events (`access.allowed`, `access.denied`) shown too; hidden by default. */
  readonly showAccess: boolean;
}

const TEXT_FIELDS = ['actorId', 'subjectId', 'action', 'scope'] as const;
const DECISIONS: readonly AuditDecision[] = ['ALLOWED', 'DENIED'];

/** The view a URL's query string describes: unknown or empty parameters are left out. */
export function auditViewOf(search: string): AuditView {
  const params = new URLSearchParams(search);
  const filter: Record<string, string> = {};
  for (const field of TEXT_FIELDS) {
    const value = params.get(field)?.trim();
    if (value) filter[field] = value;
  }
  const decision = params.get('decision');
  if (decision && (DECISIONS as readonly string[]).includes(decision)) filter.decision = decision;
  for (const field of ['from', 'to'] as const) {
    const value = params.get(field);
    if (value && !Number.isNaN(Date.parse(value))) filter[field] = new Date(value).toISOString();
  }
  // A decision filter is about access events: asking for one shows them.
  const showAccess = params.get('access') === 'shown' || filter.decision !== undefined;
  return { filter: filter as AuditFilter, showAccess };
}

/** The query string (without `?`) of a view: the inverse of `auditViewOf`. */
export function searchOf(view: AuditView): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(view.filter)) {
    if (typeof value === 'string' && value !== '') params.set(key, value);
  }
  if (view.showAccess && view.filter.decision == null) params.set('access', 'shown');
  return params.toString();
}

/** `access.allowed` and `access.denied`: decisions, not changes. */
export function isAccessEvent(action: string): boolean {
  return action.startsWith('access.');
}

/** Whether the live feed shows an event of `action` in `view`. */
export function showsEvent(view: AuditView, action: string): boolean {
  return view.showAccess || !isAccessEvent(action);
}

/** Keeps at most `limit` events, newest first, without duplicates (by id). */
export function mergeEvents<T extends { readonly id: string }>(
  newest: readonly T[],
  older: readonly T[],
  limit: number,
): T[] {
  const seen = new Set<string>();
  const merged: T[] = [];
  for (const event of [...newest, ...older]) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    merged.push(event);
    if (merged.length === limit) break;
  }
  return merged;
}

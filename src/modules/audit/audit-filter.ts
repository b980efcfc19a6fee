import { badUserInput } from 'keyholder-directive/errors.js';
import type { AuditEventRow } from '../../db/tables.js';
import { parseId, requireScopeName, requireText } from '../shared/validate.js';
import { ACCESS_ACTIONS, actionsWithPrefix } from './audit-actions.js';

export type AuditDecision = keyof typeof ACCESS_ACTIONS;

/** `AuditFilter` as clients send it. */
export interface AuditFilter {
  readonly actorId?: string | null;
  readonly subjectId?: string | null;
  readonly action?: string | null;
  readonly scope?: string | null;
  readonly decision?: AuditDecision | null;
  readonly from?: Date | null;
  readonly to?: Date | null;
}

/** A validated filter, shared by search (SQL) and the live feed (in memory). */
export interface ParsedAuditFilter {
  readonly actorId: string | null;
  readonly subjectId: string | null;
  /** The actions an event may have; `null` for any. Empty when the filter can match nothing. */
  readonly actions: readonly string[] | null;
  readonly scope: string | null;
  readonly from: Date | null;
  readonly to: Date | null;
}

function actionsOf(action: string | null | undefined): string[] | null {
  if (!action) return null;
  const text = requireText(action, 'action', 200);
  if (text.endsWith('*')) return actionsWithPrefix(text.slice(0, -1));
  if (text.endsWith('.')) return actionsWithPrefix(text);
  return [text];
}

/**
 * Validates a filter: ids must be UUIDs, a scope a scope name; an action ending in `.` or `*` is
 * a prefix, expanded to the catalogued actions it names; a decision selects access events.
 */
export function parseAuditFilter(filter: AuditFilter | null | undefined): ParsedAuditFilter {
  let actions = actionsOf(filter?.action);
  if (filter?.decision) {
    const decided = ACCESS_ACTIONS[filter.decision];
    actions = actions === null ? [decided] : actions.filter((a) => a === decided);
  }
  const from = filter?.from ?? null;
  const to = filter?.to ?? null;
  if (from !== null && to !== null && from >= to) {
    throw badUserInput('"from" must be before "to".', { field: 'from' });
  }
  return {
    actorId: filter?.actorId ? parseId(filter.actorId, 'identity') : null,
    subjectId: filter?.subjectId ?? null,
    actions,
    scope: filter?.scope ? requireScopeName(filter.scope, 'scope').name : null,
    from,
    to,
  };
}

function namesScope(details: unknown, scope: string): boolean {
  const scopes = (details as { scopes?: unknown } | null)?.scopes;
  return Array.isArray(scopes) && scopes.includes(scope);
}

/** Whether an event passes a filter (the live feed's in-memory twin of the search query). */
export function matchesAuditFilter(row: AuditEventRow, filter: ParsedAuditFilter): boolean {
  if (filter.actorId !== null && row.actorId !== filter.actorId) return false;
  if (filter.subjectId !== null && row.subjectId !== filter.subjectId) return false;
  if (filter.actions !== null && !filter.actions.includes(row.action)) return false;
  if (filter.scope !== null && !namesScope(row.details, filter.scope)) return false;
  if (filter.from !== null && row.at < filter.from) return false;
  if (filter.to !== null && row.at >= filter.to) return false;
  return true;
}

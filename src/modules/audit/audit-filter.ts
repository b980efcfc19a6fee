import type { AuditEventRow } from '../../db/tables.js';
import { parseId, requireText } from '../shared/validate.js';

/** `AuditFilter` as clients send it. */
export interface AuditFilter {
  readonly actorId?: string | null;
  readonly subjectId?: string | null;
  readonly action?: string | null;
  readonly from?: Date | null;
  readonly to?: Date | null;
}

/** A validated filter, shared by search (SQL) and the live feed (in memory). */
export interface ParsedAuditFilter {
  readonly actorId: string | null;
  readonly subjectId: string | null;
  readonly action: { readonly exact: string } | { readonly prefix: string } | null;
  readonly from: Date | null;
  readonly to: Date | null;
}

/** Validates a filter: ids must be UUIDs; an action ending in `.` or `*` is a prefix. */
export function parseAuditFilter(filter: AuditFilter | null | undefined): ParsedAuditFilter {
  let action: ParsedAuditFilter['action'] = null;
  if (filter?.action) {
    const text = requireText(filter.action, 'action', 200);
    if (text.endsWith('*')) action = { prefix: text.slice(0, -1) };
    else if (text.endsWith('.')) action = { prefix: text };
    else action = { exact: text };
  }
  return {
    actorId: filter?.actorId ? parseId(filter.actorId, 'identity') : null,
    subjectId: filter?.subjectId ?? null,
    action,
    from: filter?.from ?? null,
    to: filter?.to ?? null,
  };
}

/** Whether an event passes a filter (the live feed's in-memory twin of the search query). */
export function matchesAuditFilter(row: AuditEventRow, filter: ParsedAuditFilter): boolean {
  if (filter.actorId !== null && row.actorId !== filter.actorId) return false;
  if (filter.subjectId !== null && row.subjectId !== filter.subjectId) return false;
  if (filter.action !== null) {
    if (
      'exact' in filter.action
        ? row.action !== filter.action.exact
        : !row.action.startsWith(filter.action.prefix)
    ) {
      return false;
    }
  }
  if (filter.from !== null && row.at < filter.from) return false;
  if (filter.to !== null && row.at >= filter.to) return false;
  return true;
}

import { and, desc, eq, getTableColumns, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type AuditEventRow, auditEventScopes, auditEvents } from '../../db/tables.js';
import { badUserInput } from '../../errors.js';
import type { Page } from '../shared/pagination.js';
import { pageSize, toPage } from '../shared/pagination.js';
import { type AuditFilter, parseAuditFilter } from './audit-filter.js';

function encodeSeq(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

function decodeSeq(after: string | null | undefined): number | null {
  if (after === null || after === undefined) return null;
  const match = /^seq:(\d{1,18})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (match === null)
    throw badUserInput('"after" is not a cursor this API returned.', { field: 'after' });
  return Number(match[1]);
}

/**
 * Search of the audit log. Writing is `recordChange`'s job, in each change's transaction;
 * verification is `AuditVerifier`'s.
 */
export class AuditService {
  constructor(private readonly database: Database) {}

  /**
   * Newest first. Each filter narrows an index range ordered by `seq`: actor, subject and action
   * each have an `(x, seq)` index, scope its side table, and a time range is turned into a `seq`
   * range first (`at` never decreases along the chain), so a page reads about a page of rows.
   */
  async search(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: AuditFilter | null | undefined,
  ): Promise<Page<AuditEventRow>> {
    const size = pageSize(first);
    const before = decodeSeq(after);
    const parsed = parseAuditFilter(filter);
    if (parsed.actions !== null && parsed.actions.length === 0) return toPage([], size, () => '');
    const seq = parsed.scope === null ? auditEvents.seq : auditEventScopes.seq;
    const conditions: SQL[] = [];
    if (parsed.actorId !== null) conditions.push(eq(auditEvents.actorId, parsed.actorId));
    if (parsed.subjectId !== null) conditions.push(eq(auditEvents.subjectId, parsed.subjectId));
    if (parsed.actions !== null) {
      // With a scope, the side table's copy of the action meets the scope in one index.
      const action = parsed.scope === null ? auditEvents.action : auditEventScopes.action;
      const [only] = parsed.actions;
      conditions.push(
        parsed.actions.length === 1 && only !== undefined
          ? eq(action, only)
          : inArray(action, [...parsed.actions]),
      );
    }
    // The seq bounds alone select the time range: `at` never decreases along the chain. Repeating
    // `at >= from` / `at < to` here would add nothing but make PostgreSQL count the range twice,
    // underestimate the rows and sort every match in the range instead of reading a page.
    if (parsed.from !== null) {
      conditions.push(
        sql`${seq} >= (select f.seq from ${auditEvents} f where f.at >= ${parsed.from.toISOString()}::timestamptz order by f.at, f.seq limit 1)`,
      );
    }
    if (parsed.to !== null) {
      conditions.push(
        sql`${seq} <= (select t.seq from ${auditEvents} t where t.at < ${parsed.to.toISOString()}::timestamptz order by t.at desc, t.seq desc limit 1)`,
      );
    }
    if (before !== null) conditions.push(lt(seq, before));
    const rows =
      parsed.scope === null
        ? await this.database.db
            .select()
            .from(auditEvents)
            .where(and(...conditions))
            .orderBy(desc(auditEvents.seq))
            .limit(size + 1)
        : await this.database.db
            .select(getTableColumns(auditEvents))
            .from(auditEventScopes)
            .innerJoin(auditEvents, eq(auditEvents.seq, auditEventScopes.seq))
            .where(and(eq(auditEventScopes.scope, parsed.scope), ...conditions))
            .orderBy(desc(auditEventScopes.seq))
            .limit(size + 1);
    return toPage(rows, size, (row) => encodeSeq(row.seq));
  }
}

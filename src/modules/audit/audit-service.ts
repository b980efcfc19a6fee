import { and, desc, eq, getTableColumns, inArray, lt, type SQL, sql } from 'drizzle-orm';
import { badUserInput, invariant } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type AuditEventRow, auditEventScopes, auditEvents } from '../../db/tables.js';
import type { Page } from '../shared/pagination.js';
import { pageSize, toPage } from '../shared/pagination.js';
import { AUDIT_ACTIONS } from './audit-actions.js';
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

/** Beyond this many actions, a filter is read as one `IN` list (it selects most of the log). */
const MAX_ACTION_BRANCHES = 12;

/**
 * The actions of a multi-action filter (a prefix) as SQL literals, one index range each; `null`
 * for no filter, one action, or too many. They come from the catalogue, so they are inlined: a
 * literal lets PostgreSQL use the change-events-only index (`action not in (access…)`) in a
 * prepared statement's generic plan too, which a parameter would not.
 */
function actionBranches(actions: readonly string[] | null): SQL[] | null {
  if (actions === null || actions.length < 2 || actions.length > MAX_ACTION_BRANCHES) return null;
  return actions.map((action) => {
    invariant(
      (AUDIT_ACTIONS as readonly string[]).includes(action),
      'a multi-action filter holds catalogued actions only',
    );
    return sql.raw(`'${action}'`);
  });
}

/**
 * Search of the audit log. Writing is `recordChange`'s job, in each change's transaction;
 * verification is `AuditVerifier`'s.
 */
export class AuditService {
  constructor(private readonly database: Database) {}

  /**
   * Newest first. Each filter narrows an index range ordered by `seq`: actor, subject and action
   * each have an `(x, seq)` index, actor and action of change events one more, scope its side
   * table, and a time range is turned into a `seq` range first (`at` never decreases along the
   * chain), so a page reads about a page of rows. An action prefix is one range per action,
   * merged, so it stays a page's worth when those actions are all old and recent traffic is not.
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
    // With a scope, the side table's copy of the action meets the scope in one index.
    const action = parsed.scope === null ? auditEvents.action : auditEventScopes.action;
    const conditions: SQL[] = [];
    if (parsed.actorId !== null) conditions.push(eq(auditEvents.actorId, parsed.actorId));
    if (parsed.subjectId !== null) conditions.push(eq(auditEvents.subjectId, parsed.subjectId));
    const branches = actionBranches(parsed.actions);
    if (parsed.actions !== null && branches === null) {
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
    if (branches !== null) {
      // One newest-first index range per action, merged: each reads at most a page, however the
      // actions are spread over the log (a prefix read as one IN list is filtered row by row).
      // `action between a and a`, not `=`: with an equality PostgreSQL may walk `seq` backwards
      // and filter, which is cheap only when the action is spread evenly over the log (not when
      // it is all old); a range keeps `action` in the sort order, which only an index that
      // leads with it (after the actor or the scope) gives.
      const source =
        parsed.scope === null
          ? sql`${auditEvents}`
          : sql`${auditEventScopes} inner join ${auditEvents} on ${auditEvents.seq} = ${auditEventScopes.seq}`;
      const scoped = parsed.scope === null ? [] : [eq(auditEventScopes.scope, parsed.scope)];
      const ranges = branches.map(
        (literal) =>
          sql`(select ${seq} as seq from ${source} where ${and(...scoped, ...conditions, sql`${action} between ${literal} and ${literal}`)} order by ${action} desc, ${seq} desc limit ${size + 1})`,
      );
      const rows = await this.database.db
        .select()
        .from(auditEvents)
        .where(
          sql`${auditEvents.seq} in (select u.seq from (${sql.join(ranges, sql` union all `)}) u order by u.seq desc limit ${size + 1})`,
        )
        .orderBy(desc(auditEvents.seq));
      return toPage(rows, size, (row) => encodeSeq(row.seq));
    }
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

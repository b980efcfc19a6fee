import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type GrantRow, type GrantUsageRow, grants, grantUsage } from '../../db/tables.js';
import { liveGrant } from '../grants/live-grants.js';
import { decodeCursor, encodeCursor, type Page, pageSize, toPage } from '../shared/pagination.js';
import { requireUnusedWindow } from './unused-window.js';

/** A grant with its usage row (null: never used). */
export interface GrantWithUsage {
  readonly grant: GrantRow;
  readonly usage: GrantUsageRow | null;
}

const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;

/**
 * Active grants that have authorized nothing for `olderThanSeconds` (never-used grants count from
 * their creation), least recently active first; pages by (last activity, id). Uses are counted
 * as they are written (every few seconds), so a use in the last flush interval may not show yet.
 *
 * Two streams, each read in its own index's order and stopped after a page, then merged: used
 * grants by `grant_usage (last_used_at, grant_id)`, never-used live grants by
 * `grants (created_at, id) where revoked_at is null`. A page reads about a page of rows of each,
 * however many grants there are.
 */
export async function unusedGrants(
  database: Database,
  olderThanSeconds: number,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<GrantWithUsage>> {
  const window = requireUnusedWindow(olderThanSeconds, 'olderThanSeconds');
  const size = pageSize(first);
  const cursor = decodeCursor(after);
  const cut = at(new Date(Date.now() - window * 1000));
  const limit = size + 1;
  const afterUsed =
    cursor === null
      ? sql`true`
      : sql`(${grantUsage.lastUsedAt}, ${grantUsage.grantId}) > (${at(cursor.createdAt)}, ${cursor.id}::uuid)`;
  const afterNever =
    cursor === null
      ? sql`true`
      : sql`(${grants.createdAt}, ${grants.id}) > (${at(cursor.createdAt)}, ${cursor.id}::uuid)`;
  const used = database.db
    .select({ grant: grants, usage: grantUsage })
    .from(grantUsage)
    .innerJoin(grants, eq(grants.id, grantUsage.grantId))
    .where(and(lt(grantUsage.lastUsedAt, cut), afterUsed, liveGrant()))
    .orderBy(asc(grantUsage.lastUsedAt), asc(grantUsage.grantId))
    .limit(limit);
  const never = database.db
    .select({ grant: grants })
    .from(grants)
    .where(
      and(
        isNull(grants.revokedAt),
        lt(grants.createdAt, cut),
        afterNever,
        liveGrant(),
        sql`not exists (select 1 from ${grantUsage} u where u.grant_id = ${grants.id})`,
      ),
    )
    .orderBy(asc(grants.createdAt), asc(grants.id))
    .limit(limit);
  const [usedRows, neverRows] = await Promise.all([used, never]);
  const activity = (row: GrantWithUsage) => row.usage?.lastUsedAt ?? row.grant.createdAt;
  const merged: GrantWithUsage[] = [
    ...usedRows,
    ...neverRows.map((row) => ({ grant: row.grant, usage: null })),
  ].sort(
    (a, b) =>
      activity(a).getTime() - activity(b).getTime() ||
      (a.grant.id < b.grant.id ? -1 : a.grant.id > b.grant.id ? 1 : 0),
  );
  return toPage(merged.slice(0, limit), size, (row) =>
    encodeCursor({ createdAt: activity(row), id: row.grant.id }),
  );
}

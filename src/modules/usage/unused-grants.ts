import { and, asc, eq, lt, type SQL, sql } from 'drizzle-orm';
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

/** When a grant last did something: its last use, or its creation when it was never used. */
const lastActivity = sql`coalesce(${grantUsage.lastUsedAt}, ${grants.createdAt})`;

const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;

/**
 * Active grants that have authorized nothing for `olderThanSeconds` (never-used grants count from
 * their creation), least recently active first; pages by (last activity, id). Uses are counted
 * as they are written (every few seconds), so a use in the last flush interval may not show yet.
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
  const now = new Date();
  const conditions: SQL[] = [
    liveGrant(),
    lt(lastActivity, at(new Date(now.getTime() - window * 1000))),
  ];
  if (cursor !== null) {
    conditions.push(
      sql`(${lastActivity}, ${grants.id}) > (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id}::uuid)`,
    );
  }
  const rows = await database.db
    .select({ grant: grants, usage: grantUsage })
    .from(grants)
    .leftJoin(grantUsage, eq(grantUsage.grantId, grants.id))
    .where(and(...conditions))
    .orderBy(asc(lastActivity), asc(grants.id))
    .limit(size + 1);
  return toPage(rows, size, ({ grant, usage }) =>
    encodeCursor({ createdAt: usage?.lastUsedAt ?? grant.createdAt, id: grant.id }),
  );
}

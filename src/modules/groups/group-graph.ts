import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import { liveMembershipSql, MAX_GROUP_DEPTH } from '../grants/live-grants.js';

/** One group an identity (or a group) reaches through live memberships, and how. */
export interface ReachedGroup {
  readonly groupId: string;
  /** Memberships from the member up to `groupId`, the member's own first. */
  readonly path: readonly string[];
  /** Group ids along the path, the first group first. */
  readonly groupPath: readonly string[];
  /** The earliest expiry on the path; `null`: none ends by itself. */
  readonly expiresAt: Date | null;
  readonly depth: number;
}

function readUuidArray(value: unknown): string[] {
  if (Array.isArray(value)) return value as string[];
  if (typeof value !== 'string') return [];
  return value
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}

/**
 * Every group `member` (an identity, or a group) belongs to through live memberships, nested up
 * to `MAX_GROUP_DEPTH`, one entry per path (a group reached two ways appears twice).
 */
export async function groupsReachedBy(
  db: Db | Tx,
  member: { readonly identityId: string } | { readonly groupId: string },
): Promise<ReachedGroup[]> {
  const start =
    'identityId' in member
      ? sql`gm.member_identity_id = ${member.identityId}::uuid`
      : sql`gm.member_group_id = ${member.groupId}::uuid`;
  const rows = rowsOf<{
    group_id: string;
    path: unknown;
    group_path: unknown;
    expires_at: Date | string | null;
    depth: number;
  }>(
    await db.execute(sql`
      with recursive m(group_id, path, group_path, expires_at, depth) as (
        select gm.group_id, array[gm.id], array[gm.group_id], gm.expires_at, 1
        from group_members gm
        where ${start} and ${sql.raw(liveMembershipSql('gm'))}
        union all
        select gm.group_id, m.path || gm.id, m.group_path || gm.group_id,
               least(m.expires_at, gm.expires_at), m.depth + 1
        from m join group_members gm on gm.member_group_id = m.group_id
        where ${sql.raw(liveMembershipSql('gm'))} and m.depth < ${MAX_GROUP_DEPTH}
      )
      select group_id, path, group_path, expires_at, depth from m order by depth, group_id`),
  );
  return rows.map((row) => ({
    groupId: row.group_id,
    path: readUuidArray(row.path),
    groupPath: readUuidArray(row.group_path),
    expiresAt:
      row.expires_at === null
        ? null
        : row.expires_at instanceof Date
          ? row.expires_at
          : new Date(row.expires_at),
    depth: Number(row.depth),
  }));
}

/**
 * How many memberships deep the groups nested inside `groupId` go (0: it has no member groups):
 * with the member identities' own memberships, a path from an identity through `groupId` is this
 * plus one long below it.
 */
export async function nestedDepthBelow(db: Db | Tx, groupId: string): Promise<number> {
  const [row] = rowsOf<{ depth: number | null }>(
    await db.execute(sql`
      with recursive d(group_id, depth) as (
        select gm.member_group_id, 1 from group_members gm
        where gm.group_id = ${groupId}::uuid and gm.member_group_id is not null
          and ${sql.raw(liveMembershipSql('gm'))}
        union all
        select gm.member_group_id, d.depth + 1 from d
        join group_members gm on gm.group_id = d.group_id
        where gm.member_group_id is not null and ${sql.raw(liveMembershipSql('gm'))}
          and d.depth <= ${MAX_GROUP_DEPTH}
      )
      select max(depth) as depth from d`),
  );
  return Number(row?.depth ?? 0);
}

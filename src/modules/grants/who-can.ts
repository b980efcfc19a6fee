import { type SQL, sql } from 'drizzle-orm';
import { badUserInput } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import { type Page, pageSize, toPage } from '../shared/pagination.js';
import { requireScopeName } from '../shared/validate.js';
import { liveGrantSql, liveMembershipSql, MAX_GROUP_DEPTH, readUuids } from './live-grants.js';
import { parseResourcePattern } from './resource-pattern.js';

/** One identity that can use the scope asked about, by one grant, along one path. */
export interface Holder {
  readonly identityId: string;
  readonly grantId: string;
  /** The role the scope comes from; null for a grant of the scope itself. */
  readonly role: string | null;
  /** The group the grant was given to; null for a direct grant. */
  readonly groupId: string | null;
  /** The memberships from the identity up to `groupId` (empty for a direct grant). */
  readonly membershipIds: readonly string[];
  /** The earliest of the grant's and the path's memberships' expiries. */
  readonly expiresAt: Date | null;
}

export interface HolderPage extends Page<Holder> {
  /** Every page's nodes together: a statement of its own, run only when called. */
  readonly totalCount: () => Promise<number>;
}

export interface WhoCanQuery {
  readonly scope: string;
  readonly resource?: string | null;
  readonly first?: number | null;
  readonly after?: string | null;
}

interface HolderRow {
  readonly identity_id: string;
  readonly grant_id: string;
  readonly role: string | null;
  readonly group_id: string | null;
  readonly path: readonly string[] | string | null;
  readonly expires_at: Date | string | null;
}

/**
 * Every active identity that can use `scope` on `resource` now, with the live grant and the path
 * it holds it by: its own grants (of the scope, or of a role that bundles it), and grants to any
 * group it reaches through live memberships (nested up to `MAX_GROUP_DEPTH` deep). An owned agent
 * is listed only while its active owner can use the same. `resource` null asks about every
 * resource (only grants without a resource cover it); `x*` about every id starting with `x`. One
 * node per identity and grant (the longest-lived path when several lead there), in (identity id,
 * grant id) order, one statement per page. Each source (a scope's direct grants, a role's direct
 * grants, a reached group's members) is read in that order through its index and stops after a
 * page, so a page costs the same at a thousand holders as at a million.
 */
export async function whoCan(database: Database, query: WhoCanQuery): Promise<HolderPage> {
  const question = parseQuestion(query);
  const size = pageSize(query.first);
  const after = decodeHolderCursor(query.after);
  const keyset = (identity: string, grant: string) =>
    after === null
      ? sql`true`
      : sql`${sql.raw(identity)} >= ${after.identityId}::uuid
            and (${sql.raw(identity)}, ${sql.raw(grant)}) > (${after.identityId}::uuid, ${after.grantId}::uuid)`;
  const limit = sql`${size + 1}`;
  const rows = rowsOf<HolderRow>(
    await database.db.execute(sql`
      with recursive ${reachSql(question)},
      holders as (
        (select gr.identity_id, gr.id as grant_id, null::text as role, null::uuid as group_id,
                array[]::uuid[] as path, gr.expires_at
         from grants gr
         where gr.scope = ${question.scope} and gr.identity_id is not null
           and ${sql.raw(liveGrantSql('gr'))} and ${question.covers('gr.resource')}
           and ${keyset('gr.identity_id', 'gr.id')} and ${eligible('gr.identity_id', question)}
         order by gr.identity_id, gr.id limit ${limit})
        union all
        select g.* from bundling b cross join lateral (
          select gr.identity_id, gr.id as grant_id, gr.role, null::uuid as group_id,
                 array[]::uuid[] as path, gr.expires_at
          from grants gr
          where gr.role = b.role and gr.identity_id is not null
            and ${sql.raw(liveGrantSql('gr'))} and ${question.covers('gr.resource')}
            and ${keyset('gr.identity_id', 'gr.id')} and ${eligible('gr.identity_id', question)}
          order by gr.identity_id, gr.id limit ${limit}) g
        union all
        select m.member_identity_id, d.grant_id, gg.role, gg.group_id, array[m.id] || d.path,
               least(d.expires_at, m.expires_at)
        from down d join group_grants gg on gg.id = d.grant_id
        cross join lateral (
          select gm.id, gm.member_identity_id, gm.expires_at
          from group_members gm
          where gm.group_id = d.group_id and gm.member_identity_id is not null
            and ${sql.raw(liveMembershipSql('gm'))}
            and ${keyset('gm.member_identity_id', 'd.grant_id')}
            and ${eligible('gm.member_identity_id', question)}
          order by gm.member_identity_id limit ${limit}) m
      )
      select distinct on (identity_id, grant_id) identity_id, grant_id, role, group_id, path,
             expires_at
      from holders
      order by identity_id, grant_id, expires_at desc nulls first, cardinality(path)
      limit ${limit}`),
  );
  return {
    ...toPage(rows.map(readHolder), size, encodeHolderCursor),
    totalCount: () => countHolders(database, question),
  };
}

/**
 * How many (identity, grant) nodes every page of `whoCan` together holds: reads every holder, so
 * it is read only when a client asks for it.
 */
async function countHolders(database: Database, question: Question): Promise<number> {
  const [row] = rowsOf<{ total: number | string }>(
    await database.db.execute(sql`
      with recursive ${reachSql(question)},
      holders as (
        select gr.identity_id, gr.id as grant_id
        from grants gr
        where gr.scope = ${question.scope} and gr.identity_id is not null
          and ${sql.raw(liveGrantSql('gr'))} and ${question.covers('gr.resource')}
        union
        select gr.identity_id, gr.id
        from bundling b join grants gr on gr.role = b.role
        where gr.identity_id is not null
          and ${sql.raw(liveGrantSql('gr'))} and ${question.covers('gr.resource')}
        union
        select gm.member_identity_id, d.grant_id
        from down d join group_members gm on gm.group_id = d.group_id
        where gm.member_identity_id is not null and ${sql.raw(liveMembershipSql('gm'))}
      ), active as (
        select h.identity_id, i.kind, i.owner_id
        from holders h join identities i on i.id = h.identity_id and i.status = 'ACTIVE'
      )
      select count(*) as total from active a
      where a.kind <> 'AGENT' or a.owner_id is null
         or a.owner_id in (select identity_id from active)`),
  );
  return Number(row?.total ?? 0);
}

interface Question {
  readonly scope: string;
  /** The SQL saying that the resource in `column` covers the resource asked about. */
  readonly covers: (column: string) => SQL;
}

function parseQuestion(query: WhoCanQuery): Question {
  const scope = requireScopeName(query.scope, 'scope').name;
  const resource = parseResourcePattern(query.resource);
  return {
    scope,
    covers: (column) =>
      resource === null
        ? sql.raw(`${column} is null`)
        : sql`(${sql.raw(column)} is null or ${sql.raw(column)} = ${resource}
               or (right(${sql.raw(column)}, 1) = '*'
                   and starts_with(${resource}, left(${sql.raw(column)}, -1))))`,
  };
}

/**
 * The CTEs both statements share: `bundling` (the roles that bundle the scope on a covering
 * resource), `group_grants` (the live grants to groups that confer it) and `down` (every
 * group those grants reach, the grant's group and the groups nested in it, with the memberships
 * from that group up to the grant's and the earliest expiry along the way).
 */
function reachSql(question: Question): SQL {
  return sql`bundling as (
        select distinct rs.role from role_scopes rs
        where rs.scope = ${question.scope} and ${question.covers('rs.resource')}
      ), group_grants as (
        select gr.id, gr.group_id, gr.role, gr.expires_at
        from grants gr
        where gr.group_id is not null and ${sql.raw(liveGrantSql('gr'))}
          and ${question.covers('gr.resource')}
          and (gr.scope = ${question.scope} or gr.role in (select role from bundling))
      ), down(grant_id, group_id, path, expires_at, depth) as (
        select gg.id, gg.group_id, array[]::uuid[], gg.expires_at, 1 from group_grants gg
        union all
        select d.grant_id, gm.member_group_id, array[gm.id] || d.path,
               least(d.expires_at, gm.expires_at), d.depth + 1
        from down d join group_members gm on gm.group_id = d.group_id
        where gm.member_group_id is not null and ${sql.raw(liveMembershipSql('gm'))}
          and d.depth < ${MAX_GROUP_DEPTH}
      )`;
}

/**
 * The identity in `column` is active and, if it is an owned agent, its active owner can use the
 * scope on the resource too (directly, through a role, or through a group `down` reaches).
 */
function eligible(column: string, question: Question): SQL {
  const live = sql.raw(liveGrantSql('og'));
  return sql`exists (
    select 1 from identities i
    where i.id = ${sql.raw(column)} and i.status = 'ACTIVE'
      and (i.kind <> 'AGENT' or i.owner_id is null or exists (
        select 1 from identities o
        where o.id = i.owner_id and o.status = 'ACTIVE'
          and (exists (
                 select 1 from grants og
                 where og.identity_id = o.id and ${live} and ${question.covers('og.resource')}
                   and (og.scope = ${question.scope} or og.role in (select role from bundling)))
               or exists (
                 select 1 from group_members om join down od on od.group_id = om.group_id
                 where om.member_identity_id = o.id and ${sql.raw(liveMembershipSql('om'))})))))`;
}

function readHolder(row: HolderRow): Holder {
  return {
    identityId: row.identity_id,
    grantId: row.grant_id,
    role: row.role,
    groupId: row.group_id,
    membershipIds: readUuids(row.path),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

interface HolderCursor {
  readonly identityId: string;
  readonly grantId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function encodeHolderCursor(holder: Holder): string {
  return Buffer.from(JSON.stringify([holder.identityId, holder.grantId])).toString('base64url');
}

function decodeHolderCursor(after: string | null | undefined): HolderCursor | null {
  if (after === null || after === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      UUID.test(value[0]) &&
      UUID.test(value[1])
    ) {
      return { identityId: value[0], grantId: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badUserInput(`"after" is not a cursor whoCan returned.`, { field: 'after' });
}

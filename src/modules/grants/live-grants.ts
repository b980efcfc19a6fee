import { and, eq, isNull, type SQL, sql } from 'drizzle-orm';
import {
  capToOwner,
  intersectResource,
  isCappedByOwner,
} from 'keyholder-directive/authz/cap-to-owner.js';
import type { Db, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import { grants, type IdentityRow } from '../../db/tables.js';

/** A live grant as decisions need it. */
export interface ActiveGrant {
  readonly id: string;
  readonly identityId: string;
  readonly scope: string;
  readonly resource: string | null;
  readonly expiresAt: Date | null;
  readonly grantable: boolean;
  /** The grant's own CEL condition, evaluated at every decision; `null` for none. */
  readonly condition: string | null;
  /**
   * For an owned agent's grant: the condition of the owner's grant that caps it (an agent never
   * exceeds its owner, conditions included); absent otherwise.
   */
  readonly ownerCondition?: string | null;
  /** The role whose scope this is, when the grant is of a role; absent otherwise. */
  readonly role?: string | null;
  /**
   * How the identity holds it when not directly: through the group the grant was given to, reached
   * by the memberships in `membershipIds` (the identity's own first); absent for a direct grant.
   * `expiresAt` is then the earliest of the grant's and the memberships' expiries.
   */
  readonly via?: GrantPath | null;
}

/** The path by which a grant to a group reaches one identity. */
export interface GrantPath {
  readonly groupId: string;
  /** The memberships from the identity up to `groupId`, the identity's own first. */
  readonly membershipIds: readonly string[];
}

/**
 * The one definition of a live grant, as SQL over `grants` (or the alias given): recorded (its
 * `grant.created` event stamped it, so a row inserted behind the API is never live), not revoked,
 * and not past its expiry by the database's clock. Every statement that reads live grants uses it.
 */
export function liveGrantSql(alias = 'grants'): string {
  return `(${alias}.revoked_at is null and (${alias}.expires_at is null or ${alias}.expires_at > now()) and ${alias}.audit_seq is not null)`;
}

/** `liveGrantSql` for the query builder. */
export function liveGrant(alias?: string): SQL {
  return sql.raw(liveGrantSql(alias));
}

/**
 * The one definition of a live group membership, like `liveGrantSql`: recorded, not removed, not
 * expired.
 */
export function liveMembershipSql(alias = 'group_members'): string {
  return `(${alias}.removed_at is null and (${alias}.expires_at is null or ${alias}.expires_at > now()) and ${alias}.audit_seq is not null)`;
}

/** `liveMembershipSql` for the query builder. */
export function liveMembership(alias?: string): SQL {
  return sql.raw(liveMembershipSql(alias));
}

/** How deep groups may nest: an identity reaches a group through at most this many memberships. */
export const MAX_GROUP_DEPTH = 8;

/**
 * The groups an identity-provider token names in its groups claim. They make the token's caller a
 * member (its `source: TOKEN` memberships) on the requests that carry that token, and nowhere
 * else: not through the identity's API keys, not for a `check` or an AuthZEN evaluation about it
 * by anyone else, not for an agent it owns. A TOKEN membership row is the record of what a token
 * said (its events, `Group.members`); it stands for nothing on its own.
 */
export interface TokenGroups {
  /** The identity the token authenticates. */
  readonly identityId: string;
  /** The token's `iss`: only groups that issuer feeds (`tokenIssuer`) count. */
  readonly issuer: string;
  /** The claim's values (`groupsClaimValues`), matched against groups' `externalId`. */
  readonly externalIds: readonly string[];
}

/**
 * Which of an identity's direct memberships count, as SQL over `gm` (a `group_members` row):
 * - `STANDING_MEMBERSHIPS` (the default): every one but `source: TOKEN`;
 * - `tokenMembershipsSql`: those, and the TOKEN memberships of the groups the request's token
 *   names, for the identity it authenticates;
 * - `ALL_MEMBERSHIPS`: TOKEN ones too, whatever token they came from: never to decide a request,
 *   only to err toward more where the question is what an identity could ever reach.
 */
export const STANDING_MEMBERSHIPS = "gm.source <> 'TOKEN'";
export const ALL_MEMBERSHIPS = 'true';

/**
 * `STANDING_MEMBERSHIPS`, and for `identity` when it is `token.identity`, the TOKEN memberships of
 * the groups `token.issuer` feeds whose `externalId` is in `token.externalIds` (each an SQL
 * expression: a column or a parameter).
 */
export function tokenMembershipsSql(
  identity: string,
  token: { readonly identity: string; readonly issuer: string; readonly externalIds: string },
): string {
  return `(${STANDING_MEMBERSHIPS} or (${identity} = ${token.identity} and gm.group_id in (
    select tg.id from groups tg
    where tg.token_issuer = ${token.issuer} and tg.deleted_at is null
      and tg.external_id = any(${token.externalIds}))))`;
}

/**
 * The live grants an identity (`identity`, an SQL expression) holds, directly or through any group
 * it is a member of (nested, live memberships only), one row per grant: the one statement of
 * effective grants, used as a lateral subquery by `holdingsStatement` and `loadLiveGrants`.
 * Columns: `id` (the grant), `scope` (null for a role's), `resource` (the grant's),
 * `role_scopes` (a role grant's scopes, the JSON text of `[[scope, resource], …]`, expanded by
 * `readEffective`: one row per grant, not per scope, is what keeps a caller holding roles as cheap
 * as one holding their scopes), `expires_at` (the earliest of the grant's and the path's
 * memberships'), `grantable`, `condition`, `role`, `via_group`, `via_path`
 * (membership ids, the identity's own first). A group reached by several paths counts once, by
 * the path that lasts longest (then the shortest). Rows of grants with a `filter` (SQL over `gr`)
 * only; of the identity's direct memberships, those `memberships` (SQL over `gm`) lets count: see
 * `STANDING_MEMBERSHIPS`.
 *
 * Each step up the nesting looks up the parents of every group reached so far through
 * `group_members_group_idx` (`offset 0` keeps the planner from flattening it into a join that
 * rescans every nested membership for each row: for a member of 50 groups nested 3 deep, that step
 * took 0.44 ms of the statement's 0.73 ms; looked up, 0.09 ms).
 */
export function effectiveGrantsSql(
  identity: string,
  filter = 'true',
  memberships = STANDING_MEMBERSHIPS,
): string {
  return `(
  with recursive m(group_id, path, expires_at, depth) as (
    select gm.group_id, array[gm.id], gm.expires_at, 1
    from group_members gm
    where gm.member_identity_id = ${identity} and ${liveMembershipSql('gm')} and ${memberships}
    union all
    select up.group_id, m.path || up.id, least(m.expires_at, up.expires_at), m.depth + 1
    from m cross join lateral (
      select gm.id, gm.group_id, gm.expires_at from group_members gm
      where gm.member_group_id = m.group_id and ${liveMembershipSql('gm')}
      offset 0
    ) up
    where m.depth < ${MAX_GROUP_DEPTH}
  ), reached as (
    select distinct on (group_id) group_id, path, expires_at
    from m order by group_id, expires_at desc nulls first, depth
  ), held as (
    select gr.id, gr.scope, gr.role, gr.resource, gr.expires_at, gr.grantable, gr.condition,
           null::uuid as via_group, null::uuid[] as via_path
    from grants gr
    where gr.identity_id = ${identity} and ${liveGrantSql('gr')} and ${filter}
    union all
    select gr.id, gr.scope, gr.role, gr.resource, least(gr.expires_at, r.expires_at),
           gr.grantable, gr.condition, r.group_id, r.path
    from reached r join grants gr on gr.group_id = r.group_id
    where ${liveGrantSql('gr')} and ${filter}
  )
  select h.id, h.scope, h.resource,
         case when h.role is not null then (
           select json_agg(json_build_array(rs.scope, rs.resource) order by rs.scope, rs.resource)
           from role_scopes rs where rs.role = h.role)::text end as role_scopes,
         h.expires_at, h.grantable, h.condition, h.role, h.via_group, h.via_path::text as via_path
  from held h
)`;
}

/**
 * Grants with an expiry, unrevoked, whose `grant.expired` event is not written yet: what the
 * expiry sweeper watches (the partial index `grants_expiry_due_idx` has this predicate).
 */
export function unrecordedExpirySql(alias = 'grants'): string {
  return `(${alias}.expires_at is not null and ${alias}.revoked_at is null and ${alias}.expiry_recorded_at is null)`;
}

/** `unrecordedExpirySql` for grants whose expiry has come: what the sweeper records now. */
export function dueExpirySql(alias = 'grants'): string {
  return `(${unrecordedExpirySql(alias)} and ${alias}.expires_at <= now())`;
}

/** `liveGrantSql` in memory, for a row already read: not revoked and not expired at `now`. */
export function isLive(
  grant: { readonly revokedAt: Date | null; readonly expiresAt: Date | null },
  now = Date.now(),
): boolean {
  return grant.revokedAt === null && isUnexpired(grant, now);
}

/** Whether `grant` has not reached its expiry at `now` (epoch ms). */
export function isUnexpired(grant: { readonly expiresAt: Date | null }, now: number): boolean {
  return grant.expiresAt === null || grant.expiresAt.getTime() > now;
}

/** Of live grants read earlier, those not expired at `now`; the same array when none has. */
export function stillLive<G extends ActiveGrant>(list: readonly G[], now: number): readonly G[] {
  return list.every((g) => isUnexpired(g, now)) ? list : list.filter((g) => isUnexpired(g, now));
}

/**
 * The id of the live grant `holder` already has of the same scope or role on exactly `resource`,
 * if any: a second one would duplicate it (callers hold `lockIdentityGrants` for the holder).
 */
export async function findLiveDuplicate(
  tx: Tx,
  holder: { readonly identityId: string } | { readonly groupId: string },
  what: { readonly scope: string | null; readonly role: string | null },
  resource: string | null,
): Promise<string | undefined> {
  const [found] = await tx
    .select({ id: grants.id })
    .from(grants)
    .where(
      and(
        'identityId' in holder
          ? eq(grants.identityId, holder.identityId)
          : eq(grants.groupId, holder.groupId),
        what.scope === null ? isNull(grants.scope) : eq(grants.scope, what.scope),
        what.role === null ? isNull(grants.role) : eq(grants.role, what.role),
        resource === null ? isNull(grants.resource) : eq(grants.resource, resource),
        liveGrant(),
      ),
    );
  return found?.id;
}

/** Identity rows and their live grants as held (not yet capped by owners), by identity id. */
export interface Holdings {
  readonly identities: Map<string, IdentityRow>;
  /** Every identity read gets an entry, grants or none. */
  readonly held: Map<string, ActiveGrant[]>;
}

/** Which live grants to read, and how. */
export interface LiveGrantOptions {
  /** Only grants that may be granted on (`grantable: true`). @default false */
  readonly grantableOnly?: boolean;
  /** Only grants of these scopes. @default every scope */
  readonly scopes?: readonly string[];
  /**
   * Lock the identity rows and grants read `FOR SHARE` (inside a transaction): a concurrent
   * revocation or disable waits for the caller's transaction, or the read sees it. @default false
   */
  readonly lock?: boolean;
  /**
   * Leave an owned agent's grants as it holds them, not capped by its owner's: only to explain a
   * denial, never to decide. @default false
   */
  readonly uncapped?: boolean;
  /**
   * Which TOKEN memberships count: the groups a request's token names, for the identity it
   * authenticates (`TokenGroups`), or `'all'` of them, only where the question is what an identity
   * could ever reach (see `ALL_MEMBERSHIPS`). @default none (`STANDING_MEMBERSHIPS`)
   */
  readonly tokenMemberships?: TokenGroups | 'all' | undefined;
}

/** The SQL filter over `gr` (a grant row) that `options` ask for. */
function grantFilterSql(options: LiveGrantOptions): string {
  const filters = ['true'];
  if (options.grantableOnly) filters.push('gr.grantable');
  if (options.scopes !== undefined) {
    // Scope names are validated (`[a-z][a-z0-9._/-]*:action`) before they get here; quoted anyway.
    const names = options.scopes.map((name) => `'${name.replaceAll("'", "''")}'`).join(', ');
    const list = names === '' ? 'null' : names;
    filters.push(
      `(gr.scope in (${list}) or gr.role in (select r.role from role_scopes r where r.scope in (${list})))`,
    );
  }
  return filters.join(' and ');
}

/** One effective grant row of `effectiveGrantsSql`, after its identity's columns. */
type EffectiveColumns = readonly [
  grantId: string | null,
  scope: string | null,
  resource: string | null,
  roleScopes: string | null,
  expiresAt: Date | string | null,
  grantable: boolean | null,
  condition: string | null,
  role: string | null,
  viaGroup: string | null,
  viaPath: readonly string[] | string | null,
];

/** A role's scopes as `role_scopes` carries them: `[scope, resource]` pairs. */
type RoleScopes = readonly (readonly [scope: string, resource: string | null])[];

/** What one statement's rows share: parsed paths and role scopes, by their text. */
interface RowMemo {
  readonly paths: Map<string, GrantPath>;
  readonly roles: Map<string, RoleScopes>;
}

function newRowMemo(): RowMemo {
  return { paths: new Map(), roles: new Map() };
}

/**
 * Adds to `into` the effective grants in `columns`: none for no grant; a scope grant as it is; a
 * role grant as one grant per scope of the role, on the overlap of the grant's resource and the
 * role scope's (none where they do not overlap). `memo` parses each distinct path and role once.
 */
function readEffective(
  identityId: string,
  columns: EffectiveColumns,
  memo: RowMemo,
  into: ActiveGrant[],
): void {
  const [
    id,
    scope,
    resource,
    roleScopes,
    expiresAt,
    grantable,
    condition,
    role,
    viaGroup,
    viaPath,
  ] = columns;
  if (id === null) return;
  const expires = toDate(expiresAt);
  const via = viaGroup === null ? null : pathOf(viaGroup, viaPath, memo.paths);
  // Built property by property in one order: every grant has the same shape (no spreads).
  const add = (grantScope: string, grantResource: string | null) => {
    const grant: Mutable<ActiveGrant> = {
      id,
      identityId,
      scope: grantScope,
      resource: grantResource,
      expiresAt: expires,
      grantable: grantable === true,
      condition,
    };
    if (role !== null) grant.role = role;
    if (via !== null) grant.via = via;
    into.push(grant);
  };
  if (role === null) {
    if (scope !== null) add(scope, resource);
    return;
  }
  for (const [roleScope, roleResource] of roleScopesOf(roleScopes, memo.roles)) {
    const covered = intersectResource(resource, roleResource);
    if (covered !== undefined) add(roleScope, covered);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `role_scopes` parsed (empty for a role without scopes), shared through `roles`. */
function roleScopesOf(text: string | null, roles: Map<string, RoleScopes>): RoleScopes {
  if (text === null) return [];
  const known = roles.get(text);
  if (known !== undefined) return known;
  const parsed = JSON.parse(text) as RoleScopes;
  roles.set(text, parsed);
  return parsed;
}

/** The `via` of a grant reached through `groupId` by `path`, shared through `paths`. */
function pathOf(
  groupId: string,
  path: readonly string[] | string | null,
  paths: Map<string, GrantPath>,
): GrantPath {
  const key = typeof path === 'string' ? `${groupId}${path}` : null;
  const known = key === null ? undefined : paths.get(key);
  if (known !== undefined) return known;
  const via = { groupId, membershipIds: readUuids(path) };
  if (key !== null) paths.set(key, via);
  return via;
}

/** A `uuid[]` column: an array, or the array literal's text (`{a,b}`). */
export function readUuids(value: readonly string[] | string | null): string[] {
  if (value === null) return [];
  if (typeof value !== 'string') return [...value];
  return value
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}

/** One row of `readHoldingsOf`'s statement: an identity's columns, then one effective grant. */
interface EffectiveRow {
  readonly i_id: string;
  readonly i_kind: string;
  readonly i_name: string;
  readonly i_external_id: string | null;
  /** `DISABLED` for an identity with no `identity.created` event behind it (reconciliation). */
  readonly i_status: string;
  readonly i_audit_seq: number | null;
  readonly i_created_at: Date | string;
  readonly i_created_by: string | null;
  readonly i_disabled_at: Date | string | null;
  readonly i_disabled_by: string | null;
  readonly i_owner_id: string | null;
  readonly i_attributes: Record<string, unknown> | string | null;
  readonly id: string | null;
  readonly scope: string | null;
  readonly resource: string | null;
  readonly role_scopes: string | null;
  readonly expires_at: Date | string | null;
  readonly grantable: boolean | null;
  readonly condition: string | null;
  readonly role: string | null;
  readonly via_group: string | null;
  readonly via_path: readonly string[] | string | null;
}

function readIdentity(row: EffectiveRow): IdentityRow {
  return {
    id: row.i_id,
    kind: row.i_kind as IdentityRow['kind'],
    name: row.i_name,
    externalId: row.i_external_id,
    status: row.i_status as IdentityRow['status'],
    createdAt: toDate(row.i_created_at) as Date,
    createdBy: row.i_created_by,
    disabledAt: toDate(row.i_disabled_at),
    disabledBy: row.i_disabled_by,
    ownerId: row.i_owner_id,
    attributes: readAttributes(row.i_attributes),
    auditSeq: row.i_audit_seq === null ? null : Number(row.i_audit_seq),
  };
}

/** Adds the rows and effective live grants of `ids` to `into` (unknown ids add nothing). */
async function readHoldingsOf(
  db: Db | Tx,
  ids: readonly string[],
  options: LiveGrantOptions,
  into: Holdings,
): Promise<void> {
  if (ids.length === 0) return;
  const token = options.tokenMemberships;
  const memberships =
    token === undefined
      ? STANDING_MEMBERSHIPS
      : token === 'all'
        ? ALL_MEMBERSHIPS
        : tokenMembershipsSql('i.id', {
            identity: 'tk.identity_id',
            issuer: 'tk.issuer',
            externalIds: 'tk.external_ids',
          });
  const tokenColumns =
    token === undefined || token === 'all'
      ? sql``
      : sql`cross join (select ${token.identityId}::uuid as identity_id, ${token.issuer}::text as issuer,
          array(select jsonb_array_elements_text(${JSON.stringify(token.externalIds)}::jsonb)) as external_ids) tk`;
  const rows = rowsOf<EffectiveRow>(
    await db.execute(
      sql`select i.id as i_id, i.kind::text as i_kind, i.name as i_name,
            i.external_id as i_external_id,
            case when i.audit_seq is null then 'DISABLED' else i.status::text end as i_status,
            i.audit_seq::float8 as i_audit_seq,
            i.created_at as i_created_at, i.created_by as i_created_by,
            i.disabled_at as i_disabled_at, i.disabled_by as i_disabled_by,
            i.owner_id as i_owner_id, i.attributes as i_attributes, g.*
          from identities i ${tokenColumns}
          left join lateral ${sql.raw(effectiveGrantsSql('i.id', grantFilterSql(options), memberships))} g on true
          where i.id = any(${`{${ids.join(',')}}`}::uuid[])`,
    ),
  );
  const found: Holdings = { identities: new Map(), held: new Map() };
  const memo = newRowMemo();
  for (const row of rows) {
    let list = found.held.get(row.i_id);
    if (list === undefined) {
      list = [];
      found.identities.set(row.i_id, readIdentity(row));
      found.held.set(row.i_id, list);
    }
    readEffective(
      row.i_id,
      [
        row.id,
        row.scope,
        row.resource,
        row.role_scopes,
        row.expires_at,
        row.grantable,
        row.condition,
        row.role,
        row.via_group,
        row.via_path,
      ],
      memo,
      list,
    );
  }
  if (options.lock === true) await lockHoldings(db as Tx, found);
  for (const [id, row] of found.identities) into.identities.set(id, row);
  for (const [id, list] of found.held) into.held.set(id, list);
}

/**
 * Locks (`FOR SHARE`) the identity rows, grants and memberships `holdings` rest on, then drops
 * what a transaction that committed meanwhile took away: after this, a concurrent revocation,
 * removal or disable waits for the caller's transaction, or the caller sees it.
 */
async function lockHoldings(tx: Tx, holdings: Holdings): Promise<void> {
  const grantIds = new Set<string>();
  const membershipIds = new Set<string>();
  for (const list of holdings.held.values()) {
    for (const grant of list) {
      grantIds.add(grant.id);
      for (const id of grant.via?.membershipIds ?? []) membershipIds.add(id);
    }
  }
  const uuids = (set: Iterable<string>) => `{${[...set].join(',')}}`;
  const active = rowsOf<{ id: string; status: string }>(
    await tx.execute(
      sql`select id, status::text as status from identities
          where id = any(${uuids(holdings.identities.keys())}::uuid[]) for share`,
    ),
  );
  const stillLive = new Set(
    rowsOf<{ id: string }>(
      await tx.execute(
        sql`select id from grants where id = any(${uuids(grantIds)}::uuid[])
            and ${liveGrant()} for share`,
      ),
    ).map((r) => r.id),
  );
  const stillMember = new Set(
    membershipIds.size === 0
      ? []
      : rowsOf<{ id: string }>(
          await tx.execute(
            sql`select id from group_members where id = any(${uuids(membershipIds)}::uuid[])
                and ${liveMembership()} for share`,
          ),
        ).map((r) => r.id),
  );
  const statusOf = new Map(active.map((r) => [r.id, r.status]));
  for (const [id, row] of holdings.identities) {
    const status = statusOf.get(id);
    if (status !== undefined && status !== row.status) {
      holdings.identities.set(id, { ...row, status: status as IdentityRow['status'] });
    }
  }
  for (const [id, list] of holdings.held) {
    holdings.held.set(
      id,
      list.filter(
        (g) => stillLive.has(g.id) && (g.via?.membershipIds ?? []).every((m) => stillMember.has(m)),
      ),
    );
  }
}

/**
 * Completes `holdings` with the owners of the owned agents in it (one statement, only when an
 * owner is missing), then returns the live grants decisions use for each identity in it: an owned
 * agent's capped by its owner's (see `capToOwner`; nothing while the owner is disabled), everyone
 * else's as held. The owners stay in `holdings`, so callers can prime their loaders with them.
 */
export async function capAgentsToOwners(
  db: Db | Tx,
  holdings: Holdings,
  options: LiveGrantOptions = {},
): Promise<Map<string, readonly ActiveGrant[]>> {
  const { identities: rows, held } = holdings;
  const missing = new Set<string>();
  for (const id of held.keys()) {
    const identity = rows.get(id);
    if (identity?.ownerId && isCappedByOwner(identity) && !held.has(identity.ownerId)) {
      missing.add(identity.ownerId);
    }
  }
  await readHoldingsOf(db, [...missing], options, holdings);
  const effective = new Map<string, readonly ActiveGrant[]>();
  for (const [id, list] of held) {
    const identity = rows.get(id);
    if (identity?.ownerId && isCappedByOwner(identity)) {
      const owner = rows.get(identity.ownerId);
      const ownerActive = owner !== undefined && owner.status === 'ACTIVE';
      effective.set(id, capToOwner(list, ownerActive ? (held.get(owner.id) ?? []) : null));
    } else {
      effective.set(id, list);
    }
  }
  return effective;
}

/** What `loadLiveGrants` read: the identity rows (owners of agents included) and their grants. */
export interface LiveGrants {
  readonly identities: ReadonlyMap<string, IdentityRow>;
  /** Live grants as decisions use them (owner-capped), for every identity read. */
  readonly grants: ReadonlyMap<string, readonly ActiveGrant[]>;
}

/**
 * The one way to load identities' live grants outside authentication (which reads them in its own
 * statement, `holdingsStatement`, and caps them with `capAgentsToOwners` like this): always
 * owner-capped, optionally grantable only, of some scopes, and locked for a deciding transaction.
 * Unknown ids are absent from the result.
 */
export async function loadLiveGrants(
  db: Db | Tx,
  identityIds: readonly string[],
  options: LiveGrantOptions = {},
): Promise<LiveGrants> {
  const holdings: Holdings = { identities: new Map(), held: new Map() };
  await readHoldingsOf(db, [...new Set(identityIds)], options, holdings);
  if (options.uncapped === true) return { identities: holdings.identities, grants: holdings.held };
  const capped = await capAgentsToOwners(db, holdings, options);
  return { identities: holdings.identities, grants: capped };
}

/**
 * A statement whose rows `readHoldingsRows` reads: `callerColumns` (six), then one row per
 * identity, the caller (`callerId`, an expression over `from`) and the prefetched identities ($2),
 * with its effective live grants (see `effectiveGrantsSql`; a role grant is one grant, its scopes
 * in JSON) as one JSON array, which prefetched scopes exist ($3), the owner and the revision, all
 * in one snapshot. One round trip, one row per identity: a caller holding 5,000 grants costs one
 * JSON text to parse, not 5,000 wide rows repeating the key's and the identity's columns.
 * `credentialColumns` (two, last): an API key's `scopes` and `jkt`, nulls for other credentials.
 * `memberships`: which direct memberships count (`STANDING_MEMBERSHIPS`, or a token's:
 * `tokenMembershipsSql`).
 */
export function holdingsStatement(
  callerColumns: string,
  from: string,
  callerId: string,
  where: string,
  credentialColumns = 'null::jsonb, null::text',
  memberships = STANDING_MEMBERSHIPS,
): string {
  return `
select ${callerColumns},
       i.id, i.created_by, i.name, i.kind::text, i.external_id, i.created_at, i.disabled_at,
       i.status = 'ACTIVE' and i.audit_seq is not null, i.disabled_by,
       (select json_agg(json_build_array(g.id, g.scope, g.resource, g.role_scopes, g.expires_at,
                                         g.grantable, g.condition, g.role, g.via_group, g.via_path))
        from ${effectiveGrantsSql('i.id', 'true', memberships)} g)::text,
       array(select s.name from scopes s where s.name = any($3::text[])),
       i.owner_id,
       (select h.value::text from revision_head h),
       i.attributes,
       (select json_object_agg(sc.name, sc.condition) from scopes sc where sc.condition is not null),
       ${credentialColumns}
from ${from}
join identities i on i.id = any(array_prepend(${callerId}, $2::uuid[]))
where ${where}`;
}

/**
 * One row of `holdingsStatement`, in column order: the caller columns (an API key's, or nulls),
 * one identity (the caller or a prefetched one), that identity's live grants (the JSON text of an
 * array of `EffectiveColumns`, `null` when it holds none), which of the prefetched scope names
 * exist and the revision (the same on every row).
 */
export type HoldingsRow = readonly [
  keyId: string | null,
  prefix: string | null,
  keyExpiresAt: Date | string | null,
  keyRevokedAt: Date | string | null,
  callerId: string,
  expired: boolean | null,
  identityId: string,
  createdBy: string | null,
  name: string,
  kind: string,
  externalId: string | null,
  createdAt: Date | string,
  disabledAt: Date | string | null,
  active: boolean,
  disabledBy: string | null,
  grants: string | null,
  definedScopes: readonly string[],
  ownerId: string | null,
  revision: string | null,
  attributes: Record<string, unknown> | string | null,
  scopeConditions: Record<string, string> | string | null,
  keyScopes: readonly { scope: string; resource: string | null }[] | string | null,
  keyJkt: string | null,
];

/** drizzle's postgres.js driver makes the shared client return timestamps as text; PGlite gives Dates. */
export function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value);
}

function readAttributes(value: Record<string, unknown> | string | null): Record<string, unknown> {
  if (value === null) return {};
  return typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;
}

/** The identities and their live grants, as held (not yet capped), in `holdingsStatement` rows. */
export function readHoldingsRows(rows: readonly HoldingsRow[]): Holdings {
  const held = new Map<string, ActiveGrant[]>();
  const identityRows = new Map<string, IdentityRow>();
  const memo = newRowMemo();
  for (const row of rows) {
    const identityId = row[6];
    let list = held.get(identityId);
    if (list === undefined) {
      list = [];
      identityRows.set(identityId, {
        id: identityId,
        kind: row[9] as IdentityRow['kind'],
        name: row[8],
        externalId: row[10],
        status: row[13] ? 'ACTIVE' : 'DISABLED',
        createdAt: toDate(row[11]) as Date,
        createdBy: row[7],
        disabledAt: toDate(row[12]),
        disabledBy: row[14],
        ownerId: row[17],
        attributes: readAttributes(row[19]),
        // Not read here: `status` already counts an identity no event created as disabled.
        auditSeq: null,
      });
      held.set(identityId, list);
    }
    const grants = row[15];
    if (grants === null) continue;
    for (const columns of JSON.parse(grants) as EffectiveColumns[]) {
      readEffective(identityId, columns, memo, list);
    }
  }
  return { identities: identityRows, held };
}

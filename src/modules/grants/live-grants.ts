import { and, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import { capToOwner, isCappedByOwner } from '../../authz/cap-to-owner.js';
import type { Db, Tx } from '../../db/client.js';
import { grants, type IdentityRow, identities } from '../../db/tables.js';

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
}

/**
 * The one definition of a live grant, as SQL over `grants` (or the alias given): not revoked, and
 * not past its expiry by the database's clock. Every statement that reads live grants uses it.
 */
export function liveGrantSql(alias = 'grants'): string {
  return `(${alias}.revoked_at is null and (${alias}.expires_at is null or ${alias}.expires_at > now()))`;
}

/** `liveGrantSql` for the query builder. */
export function liveGrant(alias?: string): SQL {
  return sql.raw(liveGrantSql(alias));
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
 * The id of `identityId`'s live grant of `scope` on exactly `resource`, if it holds one: a second
 * one would duplicate it (callers hold `lockIdentityGrants`).
 */
export async function findLiveDuplicate(
  tx: Tx,
  identityId: string,
  scope: string,
  resource: string | null,
): Promise<string | undefined> {
  const [found] = await tx
    .select({ id: grants.id })
    .from(grants)
    .where(
      and(
        eq(grants.identityId, identityId),
        eq(grants.scope, scope),
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
}

const grantColumns = {
  id: grants.id,
  identityId: grants.identityId,
  scope: grants.scope,
  resource: grants.resource,
  expiresAt: grants.expiresAt,
  grantable: grants.grantable,
  condition: grants.condition,
};

function grantFilters(options: LiveGrantOptions): SQL[] {
  const filters = [liveGrant()];
  if (options.grantableOnly) filters.push(eq(grants.grantable, true) as SQL);
  if (options.scopes !== undefined) filters.push(inArray(grants.scope, [...options.scopes]));
  return filters;
}

/** Adds the rows and live grants of `ids` to `into` (unknown ids add nothing). */
async function readHoldingsOf(
  db: Db | Tx,
  ids: readonly string[],
  options: LiveGrantOptions,
  into: Holdings,
): Promise<void> {
  if (ids.length === 0) return;
  if (options.lock) {
    // FOR SHARE cannot lock the nullable side of an outer join: identities, then their grants.
    const rows = await db
      .select()
      .from(identities)
      .where(inArray(identities.id, [...ids]))
      .for('share');
    for (const row of rows) {
      into.identities.set(row.id, row);
      into.held.set(row.id, []);
    }
    if (rows.length === 0) return;
    const held = await db
      .select(grantColumns)
      .from(grants)
      .where(and(inArray(grants.identityId, [...ids]), ...grantFilters(options)))
      .orderBy(grants.createdAt, grants.id)
      .for('share');
    for (const grant of held) into.held.get(grant.identityId)?.push(grant);
    return;
  }
  const loaded = await db
    .select({ identity: identities, grant: grantColumns })
    .from(identities)
    .leftJoin(grants, and(eq(grants.identityId, identities.id), ...grantFilters(options)))
    .where(inArray(identities.id, [...ids]));
  for (const { identity, grant } of loaded) {
    into.identities.set(identity.id, identity);
    const list = into.held.get(identity.id) ?? [];
    into.held.set(identity.id, list);
    if (grant !== null) list.push(grant);
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
  const capped = await capAgentsToOwners(db, holdings, options);
  return { identities: holdings.identities, grants: capped };
}

/**
 * A statement whose rows `readHoldingsRows` reads: `callerColumns` (six), then one row per
 * (identity, live grant) of the caller (`callerId`, an expression over `from`) and the prefetched
 * identities ($2), which prefetched scopes exist ($3), the owner and the revision, all in one
 * snapshot. One round trip, one flat join (no CTE, no UNION, no JSON): measured with pgbench, this
 * costs PostgreSQL about 40 % less than a CTE with one UNION branch per kind of row.
 */
export function holdingsStatement(
  callerColumns: string,
  from: string,
  callerId: string,
  where: string,
): string {
  return `
select ${callerColumns},
       i.id, i.created_by, i.name, i.kind::text, i.external_id, i.created_at, i.disabled_at,
       i.status = 'ACTIVE', i.disabled_by,
       g.id, g.scope, g.resource, g.expires_at, g.grantable,
       array(select s.name from scopes s where s.name = any($3::text[])),
       i.owner_id,
       (select h.value::text from revision_head h),
       i.attributes, g.condition,
       (select json_object_agg(sc.name, sc.condition) from scopes sc where sc.condition is not null)
from ${from}
join identities i on i.id = any(array_prepend(${callerId}, $2::uuid[]))
left join grants g on g.identity_id = i.id and ${liveGrantSql('g')}
where ${where}`;
}

/**
 * One row of `holdingsStatement`, in column order: the caller columns (an API key's, or nulls),
 * one identity (the caller or a prefetched one), one of that identity's live grants (all `null`
 * when it holds none) and which of the prefetched scope names exist (the same on every row).
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
  grantId: string | null,
  scope: string | null,
  resource: string | null,
  grantExpiresAt: Date | string | null,
  grantable: boolean | null,
  definedScopes: readonly string[],
  ownerId: string | null,
  revision: string | null,
  attributes: Record<string, unknown> | string | null,
  condition: string | null,
  scopeConditions: Record<string, string> | string | null,
];

/** drizzle's postgres.js driver makes the shared client return timestamps as text; PGlite gives Dates. */
export function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value);
}

function readAttributes(value: HoldingsRow[23]): Record<string, unknown> {
  if (value === null) return {};
  return typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;
}

/** The identities and their live grants, as held (not yet capped), in `holdingsStatement` rows. */
export function readHoldingsRows(rows: readonly HoldingsRow[]): Holdings {
  const held = new Map<string, ActiveGrant[]>();
  const identityRows = new Map<string, IdentityRow>();
  for (const row of rows) {
    const identityId = row[6];
    if (!identityRows.has(identityId)) {
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
        ownerId: row[21],
        attributes: readAttributes(row[23]),
      });
      held.set(identityId, []);
    }
    const grantId = row[15];
    if (grantId === null) continue;
    held.get(identityId)?.push({
      id: grantId,
      identityId,
      scope: row[16] as string,
      resource: row[17],
      expiresAt: toDate(row[18]),
      grantable: row[19] === true,
      condition: row[24],
    });
  }
  return { identities: identityRows, held };
}

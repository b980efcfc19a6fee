import type { Database } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import { unauthenticated } from '../../errors.js';
import { hashSecret } from './api-key-secret.js';

/** A live grant as decisions need it. */
export interface ActiveGrant {
  readonly id: string;
  readonly identityId: string;
  readonly scope: string;
  readonly resource: string | null;
  readonly expiresAt: Date | null;
  readonly grantable: boolean;
}

/** The authenticated caller of one operation. */
export interface Caller {
  readonly identity: IdentityRow;
  readonly keyId: string;
  readonly keyExpiresAt: Date | null;
  /** The caller's grants that were live when the request started. */
  readonly grants: readonly ActiveGrant[];
}

/** What one authentication statement returns besides the caller, to spare later round trips. */
export interface Authentication {
  readonly caller: Caller;
  /** Live grants of the prefetched identities (and the caller), by identity id. */
  readonly grantsByIdentity: ReadonlyMap<string, readonly ActiveGrant[]>;
  /** Rows of the prefetched identities (and the caller). */
  readonly identities: ReadonlyMap<string, IdentityRow>;
  /** Which of the prefetched scope names exist. */
  readonly definedScopes: ReadonlySet<string>;
  /** The scope names that were prefetched. */
  readonly prefetchedScopes: readonly string[];
}

export interface Prefetch {
  readonly identityIds: readonly string[];
  readonly scopes: readonly string[];
}

interface AuthRow extends Record<string, unknown> {
  key_id: string;
  identity_id: string;
  prefix: string;
  key_expires_at: Date | string | null;
  key_revoked_at: Date | string | null;
  key_expired: boolean;
  status: string;
  valid: boolean;
  grants: JsonGrant[] | string | null;
  identities: JsonIdentity[] | string | null;
  scopes: string[] | string | null;
}

interface JsonGrant {
  id: string;
  identityId: string;
  scope: string;
  resource: string | null;
  expiresAt: string | null;
  grantable: boolean;
}

interface JsonIdentity {
  id: string;
  kind: IdentityRow['kind'];
  name: string;
  externalId: string | null;
  status: IdentityRow['status'];
  createdAt: string;
  createdBy: string | null;
  disabledAt: string | null;
  disabledBy: string | null;
}

// One round trip: the key, its identity, the live grants of the caller and of any prefetched
// identities, those identities' rows and which prefetched scopes exist.
const AUTHENTICATE_SQL = `
with k as (
  select k.id as key_id, k.identity_id, k.prefix, k.expires_at as key_expires_at,
         k.revoked_at as key_revoked_at, i.status::text as status,
         (k.expires_at is not null and k.expires_at <= now()) as key_expired,
         (k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
           and i.status = 'ACTIVE') as valid
  from api_keys k join identities i on i.id = k.identity_id
  where k.secret_hash = $1
)
select k.*,
  case when k.valid then (
    select coalesce(json_agg(json_build_object('id', g.id, 'identityId', g.identity_id,
      'scope', g.scope, 'resource', g.resource, 'expiresAt', g.expires_at,
      'grantable', g.grantable)), '[]'::json)
    from grants g
    where (g.identity_id = k.identity_id or g.identity_id = any($2::uuid[]))
      and g.revoked_at is null and (g.expires_at is null or g.expires_at > now())
  ) end as grants,
  case when k.valid then (
    select json_agg(json_build_object('id', i.id, 'kind', i.kind, 'name', i.name,
      'externalId', i.external_id, 'status', i.status, 'createdAt', i.created_at,
      'createdBy', i.created_by, 'disabledAt', i.disabled_at, 'disabledBy', i.disabled_by))
    from identities i where i.id = k.identity_id or i.id = any($2::uuid[])
  ) end as identities,
  case when k.valid and cardinality($3::text[]) > 0 then (
    select json_agg(s.name) from scopes s where s.name = any($3::text[])
  ) end as scopes
from k`;

function json<T>(value: T | string | null): T | null {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

function identityFromJson(row: JsonIdentity): IdentityRow {
  return {
    ...row,
    createdAt: new Date(row.createdAt),
    disabledAt: toDate(row.disabledAt),
  };
}

/**
 * Authenticates a bearer secret and loads everything a typical request needs in one statement.
 * - unknown secret, revoked or expired key, disabled identity: `UNAUTHENTICATED`, saying which;
 * - otherwise the caller with its live grants (and those of the prefetched identities).
 */
export async function authenticate(
  database: Database,
  secret: string,
  prefetch: Prefetch = { identityIds: [], scopes: [] },
): Promise<Authentication> {
  const rows = await database.query<AuthRow>(AUTHENTICATE_SQL, [
    hashSecret(secret),
    prefetch.identityIds,
    prefetch.scopes,
  ]);
  const row = rows[0];
  if (row === undefined) throw unauthenticated('The API key is not recognised.');
  if (!row.valid) {
    if (row.key_revoked_at !== null)
      throw unauthenticated(`API key ${row.prefix} has been revoked.`);
    if (row.key_expired) throw unauthenticated(`API key ${row.prefix} has expired.`);
    throw unauthenticated(`The identity of API key ${row.prefix} is disabled.`);
  }
  const grantsByIdentity = new Map<string, ActiveGrant[]>();
  for (const g of json(row.grants) ?? []) {
    const grant: ActiveGrant = { ...g, expiresAt: toDate(g.expiresAt) };
    const list = grantsByIdentity.get(g.identityId);
    if (list === undefined) grantsByIdentity.set(g.identityId, [grant]);
    else list.push(grant);
  }
  const identities = new Map<string, IdentityRow>();
  for (const i of json(row.identities) ?? []) identities.set(i.id, identityFromJson(i));
  const identity = identities.get(row.identity_id);
  if (identity === undefined) throw unauthenticated('The API key is not recognised.');
  const keyExpiresAt = row.key_expires_at === null ? null : new Date(row.key_expires_at);
  return {
    caller: {
      identity,
      keyId: row.key_id,
      keyExpiresAt,
      grants: grantsByIdentity.get(identity.id) ?? [],
    },
    grantsByIdentity,
    identities,
    definedScopes: new Set(json(row.scopes) ?? []),
    prefetchedScopes: prefetch.scopes,
  };
}

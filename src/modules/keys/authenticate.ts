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
  /** Where the request came from, recorded with every change it makes. */
  readonly request?: RequestMeta;
}

/** The request a change came in on, as the audit log records it. */
export interface RequestMeta {
  readonly requestId: string;
  /** The peer address of the connection (no proxy header is trusted). */
  readonly clientIp: string | null;
  readonly userAgent: string | null;
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

/**
 * One row of the authentication statement, in column order: kind ('k', 'i', 'g' or 's'), id,
 * owner, a, b, c, at, at2, flag, ref (what each holds depends on the kind; see the SQL).
 */
type AuthRow = readonly [
  kind: 'k' | 'i' | 'g' | 's',
  id: string | null,
  owner: string | null,
  a: string | null,
  b: string | null,
  c: string | null,
  at: Date | string | null,
  at2: Date | string | null,
  flag: boolean | null,
  ref: string | null,
];

// One round trip, plain rows (no JSON to build or parse): the key ('k'), then — only when the key
// is valid — the rows of the caller and prefetched identities ('i'), their live grants ('g') and
// which prefetched scopes exist ('s').
const AUTHENTICATE_SQL = `
with k as (
  select k.id, k.identity_id, k.prefix, k.expires_at, k.revoked_at,
         (k.expires_at is not null and k.expires_at <= now()) as expired,
         (k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
           and i.status = 'ACTIVE') as valid
  from api_keys k join identities i on i.id = k.identity_id
  where k.secret_hash = $1
)
select 'k' as t, k.id, k.identity_id as owner, k.prefix as a, k.expired::text as b, null::text as c,
       k.expires_at as at, k.revoked_at as at2, k.valid as flag, null::uuid as ref
from k
union all
select 'i', i.id, i.created_by, i.name, i.kind::text, i.external_id, i.created_at, i.disabled_at,
       i.status = 'ACTIVE', i.disabled_by
from k join identities i on i.id = any(array_prepend(k.identity_id, $2::uuid[]))
where k.valid
union all
select 'g', g.id, g.identity_id, g.scope, g.resource, null, g.expires_at, null, g.grantable, null
from k join grants g on g.identity_id = any(array_prepend(k.identity_id, $2::uuid[]))
where k.valid and g.revoked_at is null and (g.expires_at is null or g.expires_at > now())
union all
select 's', null, null, s.name, null, null, null, null, null, null
from k join scopes s on s.name = any($3::text[])
where k.valid`;

/** drizzle's postgres.js driver makes the shared client return timestamps as text; PGlite gives Dates. */
function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value);
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
  const rows = await database.queryArrays<AuthRow>(AUTHENTICATE_SQL, [
    hashSecret(secret),
    prefetch.identityIds,
    prefetch.scopes,
  ]);
  const key = rows.find((r) => r[0] === 'k');
  if (key === undefined) throw unauthenticated('The API key is not recognised.');
  const [, keyId, callerId, prefix, expired, , keyExpiresAt, keyRevokedAt, valid] = key;
  if (valid !== true) {
    if (keyRevokedAt !== null) throw unauthenticated(`API key ${prefix} has been revoked.`);
    if (expired === 'true') throw unauthenticated(`API key ${prefix} has expired.`);
    throw unauthenticated(`The identity of API key ${prefix} is disabled.`);
  }
  const grantsByIdentity = new Map<string, ActiveGrant[]>();
  const identities = new Map<string, IdentityRow>();
  const definedScopes = new Set<string>();
  for (const [t, id, owner, a, b, c, at, at2, flag, ref] of rows) {
    if (t === 'g') {
      const grant: ActiveGrant = {
        id: id as string,
        identityId: owner as string,
        scope: a as string,
        resource: b,
        expiresAt: toDate(at),
        grantable: flag === true,
      };
      const list = grantsByIdentity.get(grant.identityId);
      if (list === undefined) grantsByIdentity.set(grant.identityId, [grant]);
      else list.push(grant);
    } else if (t === 'i') {
      identities.set(id as string, {
        id: id as string,
        kind: b as IdentityRow['kind'],
        name: a as string,
        externalId: c,
        status: flag ? 'ACTIVE' : 'DISABLED',
        createdAt: toDate(at) as Date,
        createdBy: owner,
        disabledAt: toDate(at2),
        disabledBy: ref,
      });
    } else if (t === 's') {
      definedScopes.add(a as string);
    }
  }
  const identity = identities.get(callerId as string);
  if (identity === undefined) throw unauthenticated('The API key is not recognised.');
  return {
    caller: {
      identity,
      keyId: keyId as string,
      keyExpiresAt: toDate(keyExpiresAt),
      grants: grantsByIdentity.get(identity.id) ?? [],
    },
    grantsByIdentity,
    identities,
    definedScopes,
    prefetchedScopes: prefetch.scopes,
  };
}

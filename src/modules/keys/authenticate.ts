import { unauthenticated } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type HoldingsRow, holdingsStatement, toDate } from '../grants/live-grants.js';
import { hashSecret, prefixOf } from './api-key-secret.js';
import {
  type Authentication,
  authenticationOf,
  type Prefetch,
  readKeyScopes,
} from './authentication.js';
import type { AuthenticationCache } from './authentication-cache.js';

// The key's columns on every row of the holdings statement: whether the key is valid is decided
// from the caller's row below; nothing else is used unless it is. The revision is read in the same
// statement, hence the same snapshot, as the key and the grants.
const AUTHENTICATE_SQL = holdingsStatement(
  'k.id, k.prefix, k.expires_at, k.revoked_at, k.identity_id, k.expires_at <= now()',
  'api_keys k',
  'k.identity_id',
  // A key row with no `apikey.created` event behind it (written behind the API) is unknown.
  'k.secret_hash = $1 and k.audit_seq is not null',
  'k.scopes, k.jkt',
);

/**
 * Authenticates a bearer secret and loads everything a typical request needs in one statement.
 * - unknown secret, revoked or expired key, disabled identity: `UNAUTHENTICATED`, saying which;
 * - otherwise the caller with its live grants (and those of the prefetched identities);
 * - with a `cache`, an authentication still current at `revision_head` is reused (see
 *   `AuthenticationCache`), the key's expiry compared with the current clock.
 */
export async function authenticate(
  database: Database,
  secret: string,
  prefetch: Prefetch = { identityIds: [], scopes: [] },
  cache?: AuthenticationCache,
): Promise<Authentication> {
  const apiKeyHash = hashSecret(secret);
  if (cache === undefined) return readKeyAuthentication(database, apiKeyHash, prefetch);
  const auth = await cache.authenticate({ apiKeyHash }, prefetch, () =>
    readKeyAuthentication(database, apiKeyHash, prefetch),
  );
  // The statement compared the expiry with the database's clock when it ran; a reused
  // authentication may outlive that. The stored prefix is always `prefixOf` the secret.
  const expiresAt = auth.caller.keyExpiresAt;
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
    throw unauthenticated(`API key ${prefixOf(secret)} has expired.`, { reason: 'EXPIRED_KEY' });
  }
  return auth;
}

async function readKeyAuthentication(
  database: Database,
  apiKeyHash: string,
  prefetch: Prefetch,
): Promise<Authentication> {
  const rows = await database.queryArrays<HoldingsRow>(AUTHENTICATE_SQL, [
    apiKeyHash,
    prefetch.identityIds,
    prefetch.scopes,
  ]);
  const first = rows[0];
  if (first === undefined) {
    throw unauthenticated('The API key is not recognised.', { reason: 'UNKNOWN_KEY' });
  }
  const [keyId, prefix, keyExpiresAt, keyRevokedAt, callerId, expired] = first;
  if (keyRevokedAt !== null) {
    throw unauthenticated(`API key ${prefix} has been revoked.`, { reason: 'REVOKED_KEY' });
  }
  if (expired === true) {
    throw unauthenticated(`API key ${prefix} has expired.`, { reason: 'EXPIRED_KEY' });
  }
  const caller = rows.find((row) => row[6] === callerId);
  if (caller === undefined) {
    throw unauthenticated('The API key is not recognised.', { reason: 'UNKNOWN_KEY' });
  }
  if (!caller[13]) {
    throw unauthenticated(`The identity of API key ${prefix} is disabled.`, {
      reason: 'DISABLED_IDENTITY',
    });
  }
  return authenticationOf(database.db, rows, prefetch, callerId, {
    keyId,
    keyExpiresAt: toDate(keyExpiresAt),
    keyScopes: readKeyScopes(first[21]),
    keyJkt: first[22],
  });
}

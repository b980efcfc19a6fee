import type { Database } from '../../db/client.js';
import { type HoldingsRow, holdingsStatement, tokenMembershipsSql } from '../grants/live-grants.js';
import { type Authentication, authenticationOf, type Prefetch } from '../keys/authentication.js';
import type { CallerToken } from './caller-token.js';

// The API key statement's shape and columns (`HoldingsRow`, the key's columns null), keyed by the
// caller's externalId instead of a key's hash: one round trip for the caller, its live grants (with
// the TOKEN memberships of the groups its token names: issuer $4, claim values $5), the prefetched
// identities and scopes, and the revision of that snapshot.
const BY_EXTERNAL_ID_SQL = holdingsStatement(
  'null::uuid, null::text, null::timestamptz, null::timestamptz, c.id, null::boolean',
  'identities c',
  'c.id',
  'c.external_id = $1',
  undefined,
  tokenMembershipsSql('i.id', { identity: 'c.id', issuer: '$4', externalIds: '$5::text[]' }),
);

/**
 * Loads the identity whose `externalId` is `externalId` as the caller, with its live grants and
 * those of the prefetched identities, in one statement, exactly as API key authentication does;
 * the caller's TOKEN memberships count for the groups `token.groups` names (`TokenGroups`), no
 * other. `null` when no identity has that externalId; the identity's status is the caller's to
 * check.
 */
export async function authenticateSubject(
  database: Database,
  externalId: string,
  token: CallerToken,
  prefetch: Prefetch = { identityIds: [], scopes: [] },
): Promise<Authentication | null> {
  const rows = await database.queryArrays<HoldingsRow>(BY_EXTERNAL_ID_SQL, [
    externalId,
    prefetch.identityIds,
    prefetch.scopes,
    token.issuer,
    token.groups,
  ]);
  const first = rows[0];
  if (first === undefined) return null;
  return authenticationOf(database.db, rows, prefetch, first[4], {
    keyId: null,
    keyExpiresAt: token.expiresAt,
    keyScopes: null,
    keyJkt: token.jkt,
    token,
  });
}

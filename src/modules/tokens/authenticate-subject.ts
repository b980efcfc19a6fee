import type { Database } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import { invariant } from '../../errors.js';
import { capAgentsToOwners } from '../identities/cap-agents.js';
import {
  type Authentication,
  type AuthRow,
  holdingsStatement,
  type Prefetch,
  readHoldings,
  readScopeConditions,
} from '../keys/authenticate.js';
import { RevisionRecord } from '../revision/revision-record.js';
import type { CallerToken } from './caller-token.js';

// The API key statement's shape and columns (`AuthRow`, the key's columns null), keyed by the
// caller's externalId instead of a key's hash: one round trip for the caller, its live grants, the
// prefetched identities and scopes, and the revision of that snapshot.
const BY_EXTERNAL_ID_SQL = holdingsStatement(
  'null::uuid, null::text, null::timestamptz, null::timestamptz, c.id, null::boolean',
  'identities c',
  'c.id',
  'c.external_id = $1',
);

/**
 * Loads the identity whose `externalId` is `externalId` as the caller, with its live grants and
 * those of the prefetched identities, in one statement, exactly as API key authentication does.
 * `null` when no identity has that externalId; the identity's status is the caller's to check.
 */
export async function authenticateSubject(
  database: Database,
  externalId: string,
  token: CallerToken,
  prefetch: Prefetch = { identityIds: [], scopes: [] },
): Promise<Authentication | null> {
  const rows = await database.queryArrays<AuthRow>(BY_EXTERNAL_ID_SQL, [
    externalId,
    prefetch.identityIds,
    prefetch.scopes,
  ]);
  const first = rows[0];
  if (first === undefined) return null;
  const { identities, held } = readHoldings(rows);
  const identity = identities.get(first[4]) as IdentityRow;
  const grantsByIdentity = await capAgentsToOwners(database, identities, held);
  const revision = first[22];
  invariant(revision !== null, 'revision_head holds its one row.');
  return {
    caller: {
      identity,
      keyId: null,
      keyExpiresAt: token.expiresAt,
      token,
      grants: grantsByIdentity.get(identity.id) ?? [],
      revisions: new RevisionRecord(revision),
    },
    revision,
    grantsByIdentity,
    identities,
    definedScopes: new Set(first[20]),
    prefetchedScopes: prefetch.scopes,
    scopeConditions: readScopeConditions(first[25]),
  };
}

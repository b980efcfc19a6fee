import type { Database } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import { invariant } from '../../errors.js';
import { capAgentsToOwners } from '../identities/cap-agents.js';
import type { ActiveGrant, Authentication, Prefetch } from '../keys/authenticate.js';
import { RevisionRecord } from '../revision/revision-record.js';
import type { CallerToken } from './caller-token.js';

/**
 * One row: an identity (the caller, or a prefetched one), one of its live grants (all `null` when
 * it holds none) and which of the prefetched scope names exist (the same on every row).
 */
type SubjectRow = readonly [
  callerId: string,
  identityId: string,
  createdBy: string | null,
  name: string,
  kind: string,
  externalId: string | null,
  createdAt: Date | string,
  disabledAt: Date | string | null,
  active: boolean,
  disabledBy: string | null,
  ownerId: string | null,
  grantId: string | null,
  scope: string | null,
  resource: string | null,
  grantExpiresAt: Date | string | null,
  grantable: boolean | null,
  definedScopes: readonly string[],
  revision: string | null,
];

// The API key statement's shape, keyed by the caller's externalId instead of a key's hash: one
// round trip for the caller, its live grants and the prefetched identities and scopes, and the
// revision of that snapshot.
const BY_EXTERNAL_ID_SQL = `
select c.id,
       i.id, i.created_by, i.name, i.kind::text, i.external_id, i.created_at, i.disabled_at,
       i.status = 'ACTIVE', i.disabled_by, i.owner_id,
       g.id, g.scope, g.resource, g.expires_at, g.grantable,
       array(select s.name from scopes s where s.name = any($3::text[])),
       (select h.value::text from revision_head h)
from identities c
join identities i on i.id = any(array_prepend(c.id, $2::uuid[]))
left join grants g on g.identity_id = i.id and g.revoked_at is null
  and (g.expires_at is null or g.expires_at > now())
where c.external_id = $1`;

function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value);
}

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
  const rows = await database.queryArrays<SubjectRow>(BY_EXTERNAL_ID_SQL, [
    externalId,
    prefetch.identityIds,
    prefetch.scopes,
  ]);
  const first = rows[0];
  if (first === undefined) return null;
  const held = new Map<string, ActiveGrant[]>();
  const identities = new Map<string, IdentityRow>();
  for (const row of rows) {
    const identityId = row[1];
    if (!identities.has(identityId)) {
      identities.set(identityId, {
        id: identityId,
        kind: row[4] as IdentityRow['kind'],
        name: row[3],
        externalId: row[5],
        status: row[8] ? 'ACTIVE' : 'DISABLED',
        createdAt: toDate(row[6]) as Date,
        createdBy: row[2],
        disabledAt: toDate(row[7]),
        disabledBy: row[9],
        ownerId: row[10],
      });
      held.set(identityId, []);
    }
    const grantId = row[11];
    if (grantId === null) continue;
    held.get(identityId)?.push({
      id: grantId,
      identityId,
      scope: row[12] as string,
      resource: row[13],
      expiresAt: toDate(row[14]),
      grantable: row[15] === true,
    });
  }
  const identity = identities.get(first[0]) as IdentityRow;
  const grantsByIdentity = await capAgentsToOwners(database, identities, held);
  const revision = first[17];
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
    definedScopes: new Set(first[16]),
    prefetchedScopes: prefetch.scopes,
  };
}

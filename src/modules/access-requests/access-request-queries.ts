import { and, asc, desc, eq, gt, inArray, lte, ne, or, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, accessRequests } from '../../db/tables.js';
import { Authority } from '../grants/grant-authority.js';
import type { ActiveGrant } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';
import type { AccessRequestStatus } from './access-request-status.js';

/** The most requests one list returns. */
export const MAX_LISTED_REQUESTS = 500;

function statusCondition(status: AccessRequestStatus, now: Date): SQL | undefined {
  if (status === 'PENDING') {
    return and(eq(accessRequests.status, 'PENDING'), gt(accessRequests.expiresAt, now));
  }
  if (status === 'EXPIRED') {
    return or(
      eq(accessRequests.status, 'EXPIRED'),
      and(eq(accessRequests.status, 'PENDING'), lte(accessRequests.expiresAt, now)),
    );
  }
  return eq(accessRequests.status, status);
}

/**
 * The requests the caller made, or that ask for a grant to it (made by its owner), newest first,
 * at most `MAX_LISTED_REQUESTS`; `status` as clients see it (see `effectiveStatus`).
 */
export async function myAccessRequests(
  database: Database,
  caller: Caller,
  status: AccessRequestStatus | null | undefined,
): Promise<AccessRequestRow[]> {
  const me = caller.identity.id;
  return database.db
    .select()
    .from(accessRequests)
    .where(
      and(
        or(eq(accessRequests.requesterId, me), eq(accessRequests.identityId, me)),
        status ? statusCondition(status, new Date()) : undefined,
      ),
    )
    .orderBy(desc(accessRequests.createdAt), desc(accessRequests.id))
    .limit(MAX_LISTED_REQUESTS);
}

/**
 * Whether `grants` (live, the caller's) let their holder decide `request`: the same rule as
 * `decisionAuthority`, over grants already read (two-person rule, unconditional authority).
 */
export function mayDecide(
  callerId: string,
  grants: readonly ActiveGrant[],
  request: Pick<AccessRequestRow, 'requesterId' | 'identityId' | 'scope' | 'resource'>,
  now = Date.now(),
): boolean {
  if (request.requesterId === callerId || request.identityId === callerId) return false;
  return new Authority(grants, now).unconditionallyOver(request).length > 0;
}

/**
 * Pending requests the caller could decide now: of scopes it holds grantable on a resource that
 * covers the request's, made neither by it nor for it. Oldest first (the longest waiting).
 */
export async function accessRequestsAwaitingApproval(
  database: Database,
  caller: Caller,
): Promise<AccessRequestRow[]> {
  const me = caller.identity.id;
  const scopes = [...new Set(caller.grants.filter((g) => g.grantable).map((g) => g.scope))];
  if (scopes.length === 0) return [];
  const rows = await database.db
    .select()
    .from(accessRequests)
    .where(
      and(
        inArray(accessRequests.scope, scopes),
        statusCondition('PENDING', new Date()),
        ne(accessRequests.requesterId, me),
        ne(accessRequests.identityId, me),
      ),
    )
    .orderBy(asc(accessRequests.createdAt), asc(accessRequests.id))
    .limit(MAX_LISTED_REQUESTS);
  return rows.filter((r) => mayDecide(me, caller.grants, r));
}

import { and, asc, desc, eq, gt, inArray, isNotNull, lte, ne, or, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, accessRequests, groups } from '../../db/tables.js';
import type { ActiveGrant } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';
import type { AccessRequestStatus } from './access-request-status.js';
import { type DecisionRequirement, meetingRequirement } from './decision-authority.js';

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
 * Whether `grants` (live, the caller's) let their holder decide `request`, which needs `need`:
 * the same rule as `decisionAuthority`, over grants already read (two-person rule, unconditional
 * authority).
 */
export function mayDecide(
  callerId: string,
  grants: readonly ActiveGrant[],
  request: Pick<AccessRequestRow, 'requesterId' | 'identityId'>,
  need: DecisionRequirement,
  now = Date.now(),
): boolean {
  if (request.requesterId === callerId || request.identityId === callerId) return false;
  return meetingRequirement(grants, need, now).length > 0;
}

/**
 * Pending requests the caller could decide now: of scopes it holds grantable on a resource that
 * covers the request's, or to join groups it manages, made neither by it nor for it. Oldest first
 * (the longest waiting).
 */
export async function accessRequestsAwaitingApproval(
  database: Database,
  caller: Caller,
): Promise<AccessRequestRow[]> {
  const me = caller.identity.id;
  // Scope requests are decided with grants:write and grants:read (see the schema).
  const decidesScopes = ['grants:write', 'grants:read'].every((scope) =>
    caller.grants.some((g) => g.scope === scope),
  );
  const scopes = decidesScopes
    ? [...new Set(caller.grants.filter((g) => g.grantable).map((g) => g.scope))]
    : [];
  const managesGroups = caller.grants.some((g) => g.scope === 'groups:write');
  if (scopes.length === 0 && !managesGroups) return [];
  const rows = await database.db
    .select({ request: accessRequests, groupName: groups.name })
    .from(accessRequests)
    .leftJoin(groups, eq(groups.id, accessRequests.groupId))
    .where(
      and(
        or(
          scopes.length === 0 ? undefined : inArray(accessRequests.scope, scopes),
          managesGroups ? isNotNull(accessRequests.groupId) : undefined,
        ),
        statusCondition('PENDING', new Date()),
        ne(accessRequests.requesterId, me),
        ne(accessRequests.identityId, me),
      ),
    )
    .orderBy(asc(accessRequests.createdAt), asc(accessRequests.id))
    .limit(MAX_LISTED_REQUESTS);
  return rows
    .filter(({ request, groupName }) =>
      mayDecide(me, caller.grants, request, requirementOf(request, groupName)),
    )
    .map(({ request }) => request);
}

/** `decisionRequirement` for a request read with its group's name. */
function requirementOf(request: AccessRequestRow, groupName: string | null): DecisionRequirement {
  return request.scope === null
    ? {
        scope: 'groups:write',
        resource: groupName,
        grantable: false,
        group: { id: request.groupId as string, name: groupName as string },
      }
    : { scope: request.scope, resource: request.resource, grantable: true };
}

import { and, eq, gt } from 'drizzle-orm';
import { badUserInput, conflict, notFound } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, accessRequests, groupMembers, groups } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { liveMembership } from '../grants/live-grants.js';
import { lockIdentityGrants } from '../grants/lock-identity-grants.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { parseId, requireText } from '../shared/validate.js';
import { accessRequestEvent } from './access-request-events.js';
import { requestedIdentity, requestTarget, requireRequestTtl } from './request-target.js';

/**
 * Asks for the caller (or an identity it owns) to join a group for `ttlSeconds` once approved: how
 * a person joins a group, since nobody adds themselves. A manager of the group (`groups:write` on
 * it) who is neither the requester nor the grantee decides, and approving also needs holding
 * grantable everything the group confers (see `admitApprovedMember`), so a group that confers a
 * `requiresApproval` scope is joined only this way. No auto-approval. With `accessrequest.created`.
 * - a resource, or a malformed input: `BAD_USER_INPUT`; an unknown or deleted group: `NOT_FOUND`;
 * - already a member directly, or the same request already pending: `CONFLICT`;
 * - the identity rules of `requestAccess` (`requestTarget`).
 */
export async function requestMembership(
  database: Database,
  actor: Caller,
  input: {
    readonly identityId?: string | null;
    readonly groupId?: string | null;
    readonly resource?: string | null;
    readonly ttlSeconds: number;
    readonly reason: string;
  },
  pendingTtlSeconds: number,
): Promise<AccessRequestRow> {
  const identityId = requestedIdentity(actor, input);
  const groupId = parseId(input.groupId as string, 'group');
  if (input.resource !== null && input.resource !== undefined) {
    throw badUserInput('A request to join a group names no resource; omit resource.', {
      field: 'resource',
    });
  }
  const reason = requireText(input.reason, 'reason', 1000);
  const ttl = requireRequestTtl(input.ttlSeconds);

  return runChange(database, actor, async (tx) => {
    const target = await requestTarget(tx, actor, identityId);
    const [group] = await tx.select().from(groups).where(eq(groups.id, groupId));
    if (group === undefined || group.deletedAt !== null) {
      throw notFound(`Group ${groupId} does not exist.`);
    }
    // One pending request per identity and group: serialised like grants to the identity.
    await lockIdentityGrants(tx, identityId);
    const [member] = await tx
      .select({ id: groupMembers.id })
      .from(groupMembers)
      .where(
        and(
          eq(groupMembers.groupId, group.id),
          eq(groupMembers.memberIdentityId, identityId),
          liveMembership(),
        ),
      );
    if (member !== undefined) {
      throw conflict(`Identity "${target.name}" is already a member of group "${group.name}".`, {
        existingMembershipId: member.id,
      });
    }
    const [pending] = await tx
      .select({ id: accessRequests.id })
      .from(accessRequests)
      .where(
        and(
          eq(accessRequests.identityId, identityId),
          eq(accessRequests.groupId, group.id),
          eq(accessRequests.status, 'PENDING'),
          gt(accessRequests.expiresAt, new Date()),
        ),
      );
    if (pending !== undefined) {
      throw conflict(
        `Identity "${target.name}" already has a pending request to join group "${group.name}" (${pending.id}).`,
        { existingId: pending.id },
      );
    }
    const now = new Date();
    const [row] = await tx
      .insert(accessRequests)
      .values({
        requesterId: actor.identity.id,
        identityId,
        groupId: group.id,
        ttlSeconds: ttl,
        reason,
        createdAt: now,
        expiresAt: new Date(now.getTime() + pendingTtlSeconds * 1000),
      })
      .returning();
    if (row === undefined) throw new Error('Insert returned no access request row.');
    await recordChange(
      tx,
      actor,
      accessRequestEvent('accessrequest.created', row, { group: group.name }),
    );
    return row;
  });
}

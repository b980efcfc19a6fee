import { eq } from 'drizzle-orm';
import { conflict } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { type AccessRequestRow, accessRequests, groups, identities } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { admitApprovedMember, lockLiveGroup } from '../groups/group-service.js';
import type { Caller } from '../keys/authentication.js';
import { accessRequestEvent } from './access-request-events.js';

/**
 * Makes the approved (claimed) request to join a group real, in the deciding transaction: the
 * identity becomes a member for `ttlSeconds` from the approval, added by the approver, its reason
 * naming the request; the approver must hold grantable everything the group confers until then
 * (`admitApprovedMember`: delegation never lifts anyone, `maxTtlSeconds` caps it). With
 * `member.added` and `accessrequest.approved` (its `membershipId`). `CONFLICT` when the identity
 * is disabled, already a member, or the group was deleted.
 */
export async function approveMembership(
  tx: Tx,
  actor: Caller,
  claimed: AccessRequestRow,
): Promise<AccessRequestRow> {
  const groupId = claimed.groupId as string;
  const [target] = await tx.select().from(identities).where(eq(identities.id, claimed.identityId));
  if (target === undefined) throw new Error(`Identity ${claimed.identityId} vanished.`);
  if (target.status !== 'ACTIVE') {
    throw conflict(`Identity "${target.name}" is disabled; it cannot join a group.`);
  }
  const [exists] = await tx.select().from(groups).where(eq(groups.id, groupId));
  if (exists === undefined || exists.deletedAt !== null) {
    throw conflict(
      `Group ${exists?.name ?? groupId} was deleted after access request ${claimed.id} was made; deny it.`,
    );
  }
  const group = await lockLiveGroup(tx, groupId);
  const now = (claimed.decidedAt ?? new Date()).getTime();
  const membership = await admitApprovedMember(tx, actor, group, claimed.identityId, {
    reason: `Access request ${claimed.id}: ${claimed.reason}`,
    expiresAt: new Date(now + claimed.ttlSeconds * 1000),
    now,
  });
  const [decided] = await tx
    .update(accessRequests)
    .set({ membershipId: membership.id })
    .where(eq(accessRequests.id, claimed.id))
    .returning();
  if (decided === undefined) throw new Error('Update returned no access request row.');
  await recordChange(
    tx,
    actor,
    accessRequestEvent('accessrequest.approved', decided, {
      membershipId: membership.id,
      group: group.name,
      ...(decided.decisionReason === null ? {} : { decisionReason: decided.decisionReason }),
    }),
  );
  return decided;
}

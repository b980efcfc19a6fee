import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import { conflict, forbidden, invariant, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  type AccessReviewItemRow,
  type AccessReviewRow,
  accessReviewItems,
  accessReviews,
  grants,
  groupMembers,
  groups,
  identities,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { actorOf, assertMayRevoke } from '../grants/grant-authority.js';
import { isLive, isUnexpired } from '../grants/live-grants.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { groupsReachedBy } from '../groups/group-graph.js';
import { endMemberships } from '../groups/group-service.js';
import { inSameParty } from '../identities/party.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { optionalText, parseId } from '../shared/validate.js';
import { itemDecided, membershipItemDecided } from './access-review-events.js';

export type AccessReviewDecision = 'KEEP' | 'REVOKE';

/** The reason a reviewer's REVOKE gives the grant. */
export function reviewRevokeReason(reviewName: string, note: string | null): string {
  return note === null ? `access review "${reviewName}"` : `access review "${reviewName}": ${note}`;
}

function alreadyDecided(item: AccessReviewItemRow): Error {
  const when = item.decidedAt === null ? '' : ` at ${item.decidedAt.toISOString()}`;
  return conflict(
    `Access review item ${item.id} was already decided (${item.decision})${when}; an item is decided once.`,
    { decision: item.decision },
  );
}

/**
 * A reviewer's decision on one item, in one transaction with its `accessreview.item_decided`
 * event; REVOKE revokes the grant there too (`grant.revoked`, with the review's id).
 * - unknown item: NOT_FOUND;
 * - the review closed, or past its `dueAt`, or the item already decided (also when two decide at
 *   once: exactly one wins): CONFLICT;
 * - the grant's holder, anyone of one party with it (an owner, what it owns, what its owner owns: see `partiesOf`), or anyone who could not revoke the grant on their own
 *   (its grantor, or holding its scope grantable on its resource): FORBIDDEN;
 * - REVOKE of a grant that already ended (revoked or expired meanwhile) is recorded with outcome
 *   ALREADY_ENDED; REVOKE that would leave a scope without a root holder: CONFLICT.
 * Locks in the order the closer takes them (review, item, grant), so the two never deadlock.
 * An item of a group membership follows the same rules (`decideMembershipItem`).
 */
export async function decideAccessReviewItem(
  database: Database,
  actor: Caller,
  rawItemId: string,
  decision: AccessReviewDecision,
  rawNote?: string | null,
): Promise<AccessReviewItemRow> {
  const itemId = parseId(rawItemId, 'access review item');
  const note = optionalText(rawNote, 'note', 1000);
  return runChange(database, actor, async (tx) => {
    const [found] = await tx
      .select({ reviewId: accessReviewItems.reviewId })
      .from(accessReviewItems)
      .where(eq(accessReviewItems.id, itemId));
    if (found === undefined) throw notFound(`Access review item ${itemId} does not exist.`);
    const [review] = await tx
      .select({
        ...getTableColumns(accessReviews),
        due: sql<boolean>`${accessReviews.dueAt} <= now()`,
      })
      .from(accessReviews)
      .where(eq(accessReviews.id, found.reviewId))
      .for('share');
    invariant(review !== undefined, `access review ${found.reviewId} of item ${itemId} exists`);
    if (review.status === 'CLOSED') {
      throw conflict(
        `Access review "${review.name}" closed at ${review.closedAt?.toISOString() ?? review.dueAt.toISOString()}; its items can no longer be decided.`,
        { status: 'CLOSED' },
      );
    }
    if (review.due) {
      throw conflict(
        `Access review "${review.name}" fell due at ${review.dueAt.toISOString()}; its undecided items are revoked automatically.`,
        { dueAt: review.dueAt.toISOString() },
      );
    }
    const [item] = await tx
      .select()
      .from(accessReviewItems)
      .where(eq(accessReviewItems.id, itemId))
      .for('update');
    invariant(item !== undefined, `access review item ${itemId} still exists`);
    if (item.decision !== null) throw alreadyDecided(item);
    if (item.membershipId !== null) {
      return decideMembershipItem(tx, actor, review, item, item.membershipId, decision, note);
    }
    const grantId = item.grantId;
    invariant(grantId !== null, `access review item ${itemId} is of a grant`);
    const [grant] = await tx.select().from(grants).where(eq(grants.id, grantId)).for('update');
    invariant(grant !== undefined, `grant ${item.grantId} under review exists`);

    if (grant.identityId === actor.identity.id) {
      throw forbidden(
        `Nobody reviews their own grant: grant ${grant.id} is yours; another reviewer must decide it.`,
      );
    }
    if (grant.groupId !== null) {
      const reached = await groupsReachedBy(tx, { identityId: actor.identity.id });
      if (reached.some((r) => r.groupId === grant.groupId)) {
        throw forbidden(
          `Nobody reviews their own grant: grant ${grant.id} is held by a group you belong to; another reviewer must decide it.`,
        );
      }
    }
    const [holder] =
      grant.identityId === null
        ? []
        : await tx
            .select({ name: identities.name })
            .from(identities)
            .where(eq(identities.id, grant.identityId));
    if (
      grant.identityId !== null &&
      holder !== undefined &&
      (await inSameParty(tx, actor.identity.id, [grant.identityId]))
    ) {
      throw forbidden(
        `Grant ${grant.id} is held by "${holder.name}", which is one party with you (one owns the other, or both have the same owner); another reviewer must decide it.`,
      );
    }
    await assertMayRevoke(
      tx,
      actorOf(actor),
      grant,
      `Deciding access review item ${itemId} requires being able to revoke grant ${grant.id}:`,
    );

    const now = new Date();
    const revoking = decision === 'REVOKE' && isLive(grant, now.getTime());
    if (revoking) {
      await revokeGrantsInTx(tx, actor, [grant], {
        reason: reviewRevokeReason(review.name, note),
        details: { accessReviewId: review.id, accessReviewItemId: itemId },
        lastHolder: 'refuse',
        at: now,
        what: () => `Revoking grant ${grant.id} in access review "${review.name}"`,
      });
    }
    const [decided] = await tx
      .update(accessReviewItems)
      .set({ decision, decidedAt: now, decidedBy: actor.identity.id, note })
      .where(and(eq(accessReviewItems.id, itemId), isNull(accessReviewItems.decision)))
      .returning();
    if (decided === undefined) throw alreadyDecided(item);
    const outcome = decision === 'KEEP' ? 'KEPT' : revoking ? 'REVOKED' : 'ALREADY_ENDED';
    await recordChange(tx, actor, itemDecided(review, decided, grant, outcome));
    return decided;
  });
}

/**
 * `decideAccessReviewItem` for an item of a group membership (the resolver has checked that the
 * actor manages the group, `groups:write` on it):
 * - nobody decides their own membership, one of a group they belong to (directly or nested), nor
 *   that of anyone of their party (see `partiesOf`): FORBIDDEN;
 * - REVOKE ends a live membership in the same transaction (`group.member_removed`, with the
 *   review's id), refused with CONFLICT when that would leave a scope without a root holder; a
 *   membership that already ended is recorded ALREADY_ENDED.
 */
async function decideMembershipItem(
  tx: Tx,
  actor: Caller,
  review: Pick<AccessReviewRow, 'id' | 'name'>,
  item: AccessReviewItemRow,
  membershipId: string,
  decision: AccessReviewDecision,
  note: string | null,
): Promise<AccessReviewItemRow> {
  const [membership] = await tx
    .select()
    .from(groupMembers)
    .where(eq(groupMembers.id, membershipId))
    .for('update');
  invariant(membership !== undefined, `membership ${membershipId} under review exists`);
  const [group] = await tx.select().from(groups).where(eq(groups.id, membership.groupId));
  invariant(
    group !== undefined,
    `group ${membership.groupId} of membership ${membershipId} exists`,
  );
  if (membership.memberIdentityId === actor.identity.id) {
    throw forbidden(
      `Nobody reviews their own membership: membership ${membershipId} in group "${group.name}" is yours; another reviewer must decide it.`,
    );
  }
  if (membership.memberGroupId !== null) {
    const reached = await groupsReachedBy(tx, { identityId: actor.identity.id });
    if (reached.some((r) => r.groupId === membership.memberGroupId)) {
      throw forbidden(
        `Nobody reviews their own membership: membership ${membershipId} is of a group you belong to; another reviewer must decide it.`,
      );
    }
  }
  if (membership.memberIdentityId !== null) {
    const [member] = await tx
      .select({ name: identities.name })
      .from(identities)
      .where(eq(identities.id, membership.memberIdentityId));
    if (
      member !== undefined &&
      (await inSameParty(tx, actor.identity.id, [membership.memberIdentityId]))
    ) {
      throw forbidden(
        `Membership ${membershipId} is of "${member.name}", which is one party with you (one owns the other, or both have the same owner); another reviewer must decide it.`,
      );
    }
  }
  const now = new Date();
  const revoking =
    decision === 'REVOKE' &&
    membership.removedAt === null &&
    isUnexpired(membership, now.getTime());
  if (revoking) {
    await endMemberships(
      tx,
      actor,
      group,
      [membership],
      reviewRevokeReason(review.name, note),
      { accessReviewId: review.id, accessReviewItemId: item.id },
      now,
    );
  }
  const [decided] = await tx
    .update(accessReviewItems)
    .set({ decision, decidedAt: now, decidedBy: actor.identity.id, note })
    .where(and(eq(accessReviewItems.id, item.id), isNull(accessReviewItems.decision)))
    .returning();
  if (decided === undefined) throw alreadyDecided(item);
  const outcome = decision === 'KEEP' ? 'KEPT' : revoking ? 'REVOKED' : 'ALREADY_ENDED';
  await recordChange(tx, actor, membershipItemDecided(review, decided, group, membership, outcome));
  return decided;
}

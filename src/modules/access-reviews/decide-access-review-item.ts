import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  type AccessReviewItemRow,
  accessReviewItems,
  accessReviews,
  grants,
  identities,
} from '../../db/tables.js';
import { conflict, forbidden, invariant, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import { actorOf, assertMayRevoke } from '../grants/grant-authority.js';
import { isLive } from '../grants/live-grants.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { groupsReachedBy } from '../groups/group-graph.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { optionalText, parseId } from '../shared/validate.js';
import { itemDecided } from './access-review-events.js';

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
 * - the grant's holder, the owner of an AGENT holding it (an agent acts for its owner), or anyone who could not revoke the grant on their own
 *   (its grantor, or holding its scope grantable on its resource): FORBIDDEN;
 * - REVOKE of a grant that already ended (revoked or expired meanwhile) is recorded with outcome
 *   ALREADY_ENDED; REVOKE that would leave a scope without a root holder: CONFLICT.
 * Locks in the order the closer takes them (review, item, grant), so the two never deadlock.
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
    const [grant] = await tx.select().from(grants).where(eq(grants.id, item.grantId)).for('update');
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
            .select({ name: identities.name, kind: identities.kind, ownerId: identities.ownerId })
            .from(identities)
            .where(eq(identities.id, grant.identityId));
    if (holder?.kind === 'AGENT' && holder.ownerId === actor.identity.id) {
      throw forbidden(
        `Grant ${grant.id} is held by your agent "${holder.name}", which acts for you; another reviewer must decide it.`,
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

import { and, asc, eq, inArray, isNull, lte, type SQL, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import {
  type AccessReviewRow,
  accessReviewItems,
  accessReviews,
  type GrantRow,
  type GroupMemberRow,
  type GroupRow,
  grants,
  groupMembers,
  groups,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { isLive, isUnexpired } from '../grants/live-grants.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { orphanedScopes } from '../grants/root-holders.js';
import { endMemberships } from '../groups/group-service.js';
import { runChange } from '../revision/run-change.js';
import {
  itemDecided,
  membershipItemDecided,
  type ReviewTally,
  reviewClosed,
} from './access-review-events.js';

/** Held (per transaction) by the instance closing due reviews; the others skip that run. */
const CLOSER_LOCK = 7_291_014;

/**
 * What one closing transaction found: another instance holding the lock (`busy`), nothing due
 * (`idle`), or work done with possibly more to do (`more`).
 */
export type CloseRun = 'busy' | 'idle' | 'more';

/** The reason an undecided item's grant is revoked with at the review's due time. */
export function dueRevokeReason(review: Pick<AccessReviewRow, 'name' | 'dueAt'>): string {
  return `not reviewed by ${review.dueAt.toISOString()} in access review "${review.name}"`;
}

interface TallyRow extends ReviewTally {
  readonly scopes: string[] | string;
}

async function tallyOf(
  tx: Tx,
  reviewId: string,
): Promise<{ tally: ReviewTally; scopes: string[] }> {
  const [row] = rowsOf<TallyRow>(
    await tx.execute(sql`
      select count(*)::int as "total",
        count(*) filter (where i.decision = 'KEEP' and i.decided_by is not null)::int as "kept",
        count(*) filter (where i.decision = 'REVOKE' and i.decided_by is not null
                         and coalesce(g.revoked_at, gm.removed_at) = i.decided_at)::int as "revoked",
        count(*) filter (where i.decision = 'REVOKE' and i.decided_by is null
                         and coalesce(g.revoked_at, gm.removed_at) = i.decided_at)::int as "revokedAtDue",
        count(*) filter (where i.decision = 'REVOKE'
                         and coalesce(g.revoked_at, gm.removed_at) is distinct from i.decided_at)::int as "alreadyEnded",
        count(*) filter (where i.decision = 'KEEP' and i.decided_by is null)::int as "keptAsLastRootHolder",
        coalesce(array_agg(distinct g.scope) filter (where g.scope is not null), '{}')::text[] as "scopes"
      from access_review_items i
      left join grants g on g.id = i.grant_id
      left join group_members gm on gm.id = i.membership_id
      where i.review_id = ${reviewId}`),
  );
  if (row === undefined) throw new Error(`No tally for access review ${reviewId}.`);
  const { scopes, ...tally } = row;
  // postgres.js parses text[]; a driver that does not leaves the array literal.
  const list = Array.isArray(scopes) ? scopes : scopes.replace(/^\{|\}$/g, '').split(',');
  return {
    tally: {
      total: Number(tally.total),
      kept: Number(tally.kept),
      revoked: Number(tally.revoked),
      revokedAtDue: Number(tally.revokedAtDue),
      alreadyEnded: Number(tally.alreadyEnded),
      keptAsLastRootHolder: Number(tally.keptAsLastRootHolder),
    },
    scopes: list.filter((s) => s !== '').sort(),
  };
}

/**
 * One transaction of the due-time work, under a transaction-level advisory lock that only one
 * instance holds at a time (the others get `busy` and look again later):
 * - takes the earliest OPEN review past its `dueAt` (row locked);
 * - decides up to `batchSize` of its undecided items: REVOKE, revoking active grants (actor null,
 *   reason `not reviewed by <dueAt> in access review "<name>"`, a `grant.revoked` event each with
 *   the review's id); a grant that already ended is only recorded; a grant whose revocation would
 *   leave a built-in scope without an active grantable holder is KEPT with a note saying so (an
 *   `accessreview.item_decided` event, and `log`);
 * - once none is undecided, closes the review (conditional on OPEN) with `accessreview.closed`
 *   and its counts.
 * Every step is conditional on the state it changes, so a crash or a second instance repeats
 * nothing: a later run carries on where this one stopped.
 */
export async function closeDueReviews(
  database: Database,
  batchSize: number,
  log: (message: string, error?: unknown) => void,
): Promise<CloseRun> {
  return runChange(database, null, async (tx): Promise<CloseRun> => {
    const [lock] = rowsOf<{ locked: boolean }>(
      await tx.execute(sql`select pg_try_advisory_xact_lock(${CLOSER_LOCK}) as "locked"`),
    );
    if (lock?.locked !== true) return 'busy';
    const [review] = await tx
      .select()
      .from(accessReviews)
      .where(and(eq(accessReviews.status, 'OPEN'), lte(accessReviews.dueAt, sql`now()`)))
      .orderBy(asc(accessReviews.dueAt), asc(accessReviews.id))
      .limit(1)
      .for('update');
    if (review === undefined) return 'idle';

    const pending = await tx
      .select({ itemId: accessReviewItems.id, grant: grants })
      .from(accessReviewItems)
      .innerJoin(grants, eq(grants.id, accessReviewItems.grantId))
      .where(and(eq(accessReviewItems.reviewId, review.id), isNull(accessReviewItems.decision)))
      .orderBy(asc(accessReviewItems.id))
      .limit(batchSize)
      .for('update');
    if (pending.length > 0) {
      await decideAtDue(tx, review, pending, log);
      if (pending.length === batchSize) return 'more';
    }
    const memberships = await tx
      .select({ itemId: accessReviewItems.id, membership: groupMembers, group: groups })
      .from(accessReviewItems)
      .innerJoin(groupMembers, eq(groupMembers.id, accessReviewItems.membershipId))
      .innerJoin(groups, eq(groups.id, groupMembers.groupId))
      .where(and(eq(accessReviewItems.reviewId, review.id), isNull(accessReviewItems.decision)))
      .orderBy(asc(accessReviewItems.id))
      .limit(batchSize)
      .for('update', { of: [accessReviewItems, groupMembers] });
    if (memberships.length > 0) {
      await decideMembershipsAtDue(tx, review, memberships, log);
      if (memberships.length === batchSize) return 'more';
    }

    const { tally, scopes } = await tallyOf(tx, review.id);
    const closed = await tx
      .update(accessReviews)
      .set({ status: 'CLOSED', closedAt: new Date() })
      .where(and(eq(accessReviews.id, review.id), eq(accessReviews.status, 'OPEN')))
      .returning({ id: accessReviews.id });
    if (closed.length === 1) await recordChange(tx, null, reviewClosed(review, scopes, tally));
    return 'more';
  });
}

async function decideAtDue(
  tx: Tx,
  review: AccessReviewRow,
  pending: readonly { itemId: string; grant: GrantRow }[],
  log: (message: string, error?: unknown) => void,
): Promise<void> {
  const now = new Date();
  const itemOf = new Map(pending.map((p) => [p.grant.id, p.itemId]));
  const live = pending.filter((p) => isLive(p.grant, now.getTime())).map((p) => p.grant);
  const outcomes = await revokeGrantsInTx(tx, null, live, {
    reason: dueRevokeReason(review),
    details: (grant) => ({
      accessReviewId: review.id,
      accessReviewItemId: itemOf.get(grant.id),
      automatic: true,
    }),
    lastHolder: 'keep',
    at: now,
    what: (grant) => `Revoking grant ${grant.id} at the due time of access review "${review.name}"`,
  });
  const keptIds = new Set<string>();
  for (const result of outcomes) {
    if (result.outcome !== 'KEPT') continue;
    const itemId = itemOf.get(result.grant.id) as string;
    keptIds.add(itemId);
    const note = `Kept at the due time: ${result.why}`;
    await tx
      .update(accessReviewItems)
      .set({ decision: 'KEEP', decidedAt: now, decidedBy: null, note })
      .where(and(eq(accessReviewItems.id, itemId), isNull(accessReviewItems.decision)));
    await recordChange(
      tx,
      null,
      itemDecided(
        review,
        { id: itemId, decision: 'KEEP', note },
        result.grant,
        'KEPT_AS_LAST_ROOT_HOLDER',
      ),
    );
    log(
      `Access review "${review.name}" (${review.id}) kept grant ${result.grant.id}: ${result.why}`,
    );
  }
  const decided = pending.map((p) => p.itemId).filter((id) => !keptIds.has(id));
  if (decided.length > 0) {
    await tx
      .update(accessReviewItems)
      .set({ decision: 'REVOKE', decidedAt: now, decidedBy: null })
      .where(
        and(inArray(accessReviewItems.id, decided), isNull(accessReviewItems.decision)) as SQL,
      );
  }
}

/**
 * The due time's decision on undecided membership items: each live membership ends (actor null,
 * the due reason, `group.member_removed` with the review's id), unless that would leave a scope
 * without a root holder: then it is KEPT with a note saying so. One already ended is recorded.
 */
async function decideMembershipsAtDue(
  tx: Tx,
  review: AccessReviewRow,
  pending: readonly { itemId: string; membership: GroupMemberRow; group: GroupRow }[],
  log: (message: string, error?: unknown) => void,
): Promise<void> {
  const now = new Date();
  for (const { itemId, membership, group } of pending) {
    const live = membership.removedAt === null && isUnexpired(membership, now.getTime());
    const orphaned = live ? await orphanedScopes(tx, { membershipIds: [membership.id] }) : [];
    if (orphaned.length > 0) {
      const note = `Kept at the due time: ending it would leave nobody holding ${orphaned.map((s) => `"${s}"`).join(', ')} grantable on every resource.`;
      await tx
        .update(accessReviewItems)
        .set({ decision: 'KEEP', decidedAt: now, decidedBy: null, note })
        .where(and(eq(accessReviewItems.id, itemId), isNull(accessReviewItems.decision)));
      await recordChange(
        tx,
        null,
        membershipItemDecided(
          review,
          { id: itemId, decision: 'KEEP', note },
          group,
          membership,
          'KEPT_AS_LAST_ROOT_HOLDER',
        ),
      );
      log(
        `Access review "${review.name}" (${review.id}) kept membership ${membership.id}: ${note}`,
      );
      continue;
    }
    if (live) {
      await endMemberships(
        tx,
        null,
        group,
        [membership],
        dueRevokeReason(review),
        { accessReviewId: review.id, accessReviewItemId: itemId, automatic: true },
        now,
      );
    }
    await tx
      .update(accessReviewItems)
      .set({ decision: 'REVOKE', decidedAt: now, decidedBy: null })
      .where(and(eq(accessReviewItems.id, itemId), isNull(accessReviewItems.decision)));
  }
}

import { and, asc, eq, getTableColumns, inArray, isNull, sql } from 'drizzle-orm';
import { badUserInput, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  type AccessReviewRow,
  accessReviewItems,
  accessReviews,
  grants,
  groupMembers,
  groups,
  identities,
  scopes,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { actorOf, beyondRevocationAuthority, conferredBy } from '../grants/grant-authority.js';
import { liveGrant } from '../grants/live-grants.js';
import { groupsReachedBy } from '../groups/group-graph.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { requireText } from '../shared/validate.js';
import { reviewStarted } from './access-review-events.js';
import {
  type AccessReviewCriteria,
  type AccessReviewFilterInput,
  parseReviewFilter,
  reviewedGrantsCondition,
  reviewedMembershipsCondition,
} from './access-review-filter.js';

/** The most grants one review may cover: a larger campaign is a filter that needs narrowing. */
export const MAX_REVIEW_ITEMS = 5000;
/** How far away a review's due time may be: a year. */
export const MAX_REVIEW_SECONDS = 366 * 24 * 3600;
/** Notified (with the review's id) when a review starts, so every instance re-arms its closer. */
export const REVIEW_STARTED_CHANNEL = 'keyholder_access_reviews';
const NAMED_IN_REFUSAL = 5;

export interface StartAccessReviewInput {
  readonly name: string;
  readonly filter: AccessReviewFilterInput;
  readonly dueAt: Date;
}

/**
 * Starts a review: snapshots the active grants matching the filter (or, with `filter.groupId`, the
 * group's live direct memberships) into its items, in one transaction with its
 * `accessreview.started` event. A review of a group's memberships is started only by a manager of
 * the group (`groups:write` on it: checked by the resolver, with the caller's conditions).
 * - `name` 1–200 characters; `dueAt` in the future and at most a year away: else BAD_USER_INPUT;
 * - an unknown scope or identity in the filter: NOT_FOUND; no grant matches, or more than
 *   MAX_REVIEW_ITEMS: BAD_USER_INPUT;
 * - every grant matched must be one the actor could revoke on its own (its grantor, or holding its
 *   scope grantable on its resource), since undecided items are revoked at `dueAt`: else
 *   FORBIDDEN naming the others, and nothing starts.
 */
export async function startAccessReview(
  database: Database,
  actor: Caller,
  input: StartAccessReviewInput,
): Promise<AccessReviewRow> {
  const name = requireText(input.name, 'name', 200);
  const now = Date.now();
  if (input.dueAt.getTime() <= now) {
    throw badUserInput(`dueAt (${input.dueAt.toISOString()}) is not in the future.`, {
      field: 'dueAt',
    });
  }
  if (input.dueAt.getTime() > now + MAX_REVIEW_SECONDS * 1000) {
    throw badUserInput('dueAt is more than a year away; a review must fall due within a year.', {
      field: 'dueAt',
    });
  }
  const criteria = parseReviewFilter(input.filter, now);

  return runChange(database, actor, async (tx) => {
    if (criteria.scope !== null) {
      const [scope] = await tx
        .select({ name: scopes.name })
        .from(scopes)
        .where(eq(scopes.name, criteria.scope));
      if (scope === undefined) throw notFound(`Scope "${criteria.scope}" is not defined.`);
    }
    if (criteria.identityId !== null) {
      const [identity] = await tx
        .select({ id: identities.id })
        .from(identities)
        .where(eq(identities.id, criteria.identityId));
      if (identity === undefined) throw notFound(`Identity ${criteria.identityId} does not exist.`);
    }
    const { groupId } = criteria;
    if (groupId !== null && groupId !== undefined) {
      return startMembershipReview(tx, actor, name, input.dueAt, { ...criteria, groupId });
    }
    const matched = await tx
      .select(getTableColumns(grants))
      .from(grants)
      .leftJoin(identities, eq(identities.id, grants.identityId))
      .where(reviewedGrantsCondition(criteria))
      .orderBy(asc(grants.createdAt), asc(grants.id))
      .limit(MAX_REVIEW_ITEMS + 1);
    if (matched.length === 0) {
      throw badUserInput('No active grant matches the filter; there is nothing to review.', {
        field: 'filter',
      });
    }
    if (matched.length > MAX_REVIEW_ITEMS) {
      throw badUserInput(
        `More than ${MAX_REVIEW_ITEMS} active grants match the filter; narrow it (by scope, identity or age).`,
        { field: 'filter' },
      );
    }

    const beyond = await beyondRevocationAuthority(tx, actorOf(actor), matched);
    if (beyond.length > 0) {
      const named = beyond
        .slice(0, NAMED_IN_REFUSAL)
        .map((g) => `${g.id} ("${g.scope}" on ${describeResource(g.resource)})`)
        .join(', ');
      const more =
        beyond.length > NAMED_IN_REFUSAL ? ` and ${beyond.length - NAMED_IN_REFUSAL} more` : '';
      throw forbidden(
        `Starting access review "${name}" requires being able to revoke every grant it covers (as its grantor, or holding its scope grantable), and you cannot revoke ${named}${more}.`,
        { grantIds: beyond.slice(0, 100).map((g) => g.id), count: beyond.length },
      );
    }

    const [review] = await tx
      .insert(accessReviews)
      .values({ name, filter: criteria, dueAt: input.dueAt, createdBy: actor.identity.id })
      .returning();
    if (review === undefined) throw new Error('Insert returned no access review row.');
    await tx
      .insert(accessReviewItems)
      .values(matched.map((g) => ({ reviewId: review.id, grantId: g.id })));
    await recordChange(
      tx,
      actor,
      reviewStarted(
        review,
        [
          ...new Set([...(await conferredBy(tx, matched)).values()].flat().map((t) => t.scope)),
        ].sort(),
        matched.length,
      ),
    );
    await tx.execute(sql`select pg_notify(${REVIEW_STARTED_CHANNEL}, ${review.id})`);
    return review;
  });
}

/** `startAccessReview` of the memberships of group `criteria.groupId`. */
async function startMembershipReview(
  tx: Tx,
  actor: Caller,
  name: string,
  dueAt: Date,
  criteria: AccessReviewCriteria & { readonly groupId: string },
): Promise<AccessReviewRow> {
  const [group] = await tx
    .select()
    .from(groups)
    .where(and(eq(groups.id, criteria.groupId), isNull(groups.deletedAt)));
  if (group === undefined) throw notFound(`Group ${criteria.groupId} does not exist.`);
  const matched = await tx
    .select({ id: groupMembers.id })
    .from(groupMembers)
    .leftJoin(identities, eq(identities.id, groupMembers.memberIdentityId))
    .where(reviewedMembershipsCondition(criteria))
    .orderBy(asc(groupMembers.addedAt), asc(groupMembers.id))
    .limit(MAX_REVIEW_ITEMS + 1);
  if (matched.length === 0) {
    throw badUserInput(
      `Group "${group.name}" has no live membership matching the filter; there is nothing to review.`,
      { field: 'filter' },
    );
  }
  if (matched.length > MAX_REVIEW_ITEMS) {
    throw badUserInput(
      `More than ${MAX_REVIEW_ITEMS} memberships of group "${group.name}" match the filter; narrow it (by identity or age).`,
      { field: 'filter' },
    );
  }
  const [review] = await tx
    .insert(accessReviews)
    .values({ name, filter: criteria, dueAt, createdBy: actor.identity.id })
    .returning();
  if (review === undefined) throw new Error('Insert returned no access review row.');
  await tx
    .insert(accessReviewItems)
    .values(matched.map((m) => ({ reviewId: review.id, membershipId: m.id })));
  // What the members hold through the group (and the groups above it): the scopes it is about.
  const above = await groupsReachedBy(tx, { groupId: group.id });
  const conferring = await tx
    .select()
    .from(grants)
    .where(and(inArray(grants.groupId, [group.id, ...above.map((r) => r.groupId)]), liveGrant()));
  const conferred = [
    ...new Set([...(await conferredBy(tx, conferring)).values()].flat().map((t) => t.scope)),
  ].sort();
  await recordChange(tx, actor, reviewStarted(review, conferred, matched.length));
  await tx.execute(sql`select pg_notify(${REVIEW_STARTED_CHANNEL}, ${review.id})`);
  return review;
}

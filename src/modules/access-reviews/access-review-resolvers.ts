import { invariant } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AccessReviewItemRow, AccessReviewRow, GroupRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { assertManagesGroup } from '../groups/assert-manages-group.js';
import { parseId } from '../shared/validate.js';
import { itemsKey } from './access-review-loaders.js';
import type { AccessReviewDecision } from './decide-access-review-item.js';
import { itemOutcome } from './item-outcome.js';
import type { StartAccessReviewInput } from './start-access-review.js';

type Ctx = KeyholderContext;

async function grantOf(item: AccessReviewItemRow, ctx: Ctx) {
  if (item.grantId === null) return null;
  const grant = await ctx.loaders.accessReviews.grant.load(item.grantId);
  invariant(grant !== null, `grant ${item.grantId} of access review item ${item.id} exists`);
  return grant;
}

async function membershipOf(item: AccessReviewItemRow, ctx: Ctx) {
  if (item.membershipId === null) return null;
  const membership = await ctx.loaders.teams.membership.load(item.membershipId);
  invariant(membership !== null, `membership ${item.membershipId} of item ${item.id} exists`);
  return membership;
}

/** Refuses a membership review's start or decision to anyone but a manager of its group. */
function assertReviewsGroup(ctx: Ctx, group: GroupRow | null): void {
  if (group !== null)
    assertManagesGroup(ctx, group, `Reviewing the members of group "${group.name}"`);
}

export const accessReviewResolvers = {
  Query: {
    accessReviews: (
      _: unknown,
      args: {
        first?: number | null;
        after?: string | null;
        status?: AccessReviewRow['status'] | null;
      },
      ctx: Ctx,
    ) => ctx.services.accessReviews.list(args.first, args.after, args.status),
    accessReview: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.loaders.accessReviews.review.load(parseId(args.id, 'access review')),
  },
  Mutation: {
    startAccessReview: async (_: unknown, args: { input: StartAccessReviewInput }, ctx: Ctx) => {
      const groupId = args.input.filter.groupId;
      if (groupId) assertReviewsGroup(ctx, await ctx.services.groups.get(groupId));
      return ctx.services.accessReviews.start(ctx.caller, args.input);
    },
    decideAccessReviewItem: async (
      _: unknown,
      args: { itemId: string; decision: AccessReviewDecision; note?: string | null },
      ctx: Ctx,
    ) => {
      assertReviewsGroup(ctx, await ctx.services.accessReviews.groupOfItem(args.itemId));
      return ctx.services.accessReviews.decide(ctx.caller, args.itemId, args.decision, args.note);
    },
  },
  AccessReview: {
    createdBy: (review: AccessReviewRow, _: unknown, ctx: Ctx) =>
      review.createdBy === null ? null : ctx.loaders.identity.load(review.createdBy),
    counts: (review: AccessReviewRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.accessReviews.counts.load(review.id),
    items: (
      review: AccessReviewRow,
      args: { first?: number | null; after?: string | null; decided?: boolean | null },
      ctx: Ctx,
    ) => ctx.loaders.accessReviews.items.load(itemsKey(review.id, args)),
  },
  AccessReviewItem: {
    review: async (item: AccessReviewItemRow, _: unknown, ctx: Ctx) => {
      const review = await ctx.loaders.accessReviews.review.load(item.reviewId);
      invariant(review !== null, `access review ${item.reviewId} of item ${item.id} exists`);
      return review;
    },
    grant: (item: AccessReviewItemRow, _: unknown, ctx: Ctx) => grantOf(item, ctx),
    membership: (item: AccessReviewItemRow, _: unknown, ctx: Ctx) => membershipOf(item, ctx),
    outcome: async (item: AccessReviewItemRow, _: unknown, ctx: Ctx) => {
      const grant = await grantOf(item, ctx);
      if (grant !== null) return itemOutcome(item, grant);
      const membership = await membershipOf(item, ctx);
      invariant(membership !== null, `access review item ${item.id} has a grant or a membership`);
      return itemOutcome(item, { revokedAt: membership.removedAt });
    },
    decidedBy: (item: AccessReviewItemRow, _: unknown, ctx: Ctx) =>
      item.decidedBy === null ? null : ctx.loaders.identity.load(item.decidedBy),
  },
} satisfies Resolvers;

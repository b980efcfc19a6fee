import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AccessReviewItemRow, AccessReviewRow } from '../../db/tables.js';
import { invariant } from '../../errors.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { parseId } from '../shared/validate.js';
import { itemsKey } from './access-review-loaders.js';
import type { AccessReviewDecision } from './decide-access-review-item.js';
import { itemOutcome } from './item-outcome.js';
import type { StartAccessReviewInput } from './start-access-review.js';

type Ctx = KeyholderContext;

async function grantOf(item: AccessReviewItemRow, ctx: Ctx) {
  invariant(item.grantId !== null, `access review item ${item.id} is of a grant`);
  const grant = await ctx.loaders.accessReviews.grant.load(item.grantId);
  invariant(grant !== null, `grant ${item.grantId} of access review item ${item.id} exists`);
  return grant;
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
    startAccessReview: (_: unknown, args: { input: StartAccessReviewInput }, ctx: Ctx) =>
      ctx.services.accessReviews.start(ctx.caller, args.input),
    decideAccessReviewItem: (
      _: unknown,
      args: { itemId: string; decision: AccessReviewDecision; note?: string | null },
      ctx: Ctx,
    ) => ctx.services.accessReviews.decide(ctx.caller, args.itemId, args.decision, args.note),
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
    outcome: async (item: AccessReviewItemRow, _: unknown, ctx: Ctx) =>
      itemOutcome(item, await grantOf(item, ctx)),
    decidedBy: (item: AccessReviewItemRow, _: unknown, ctx: Ctx) =>
      item.decidedBy === null ? null : ctx.loaders.identity.load(item.decidedBy),
  },
} satisfies Resolvers;

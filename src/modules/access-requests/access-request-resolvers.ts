import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AccessRequestRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { noteSensitiveScope } from '../audit/note-sensitive-scope.js';
import { type AccessRequestStatus, effectiveStatus } from './access-request-status.js';
import type { RequestAccessInput } from './request-access.js';

type Ctx = KeyholderContext;

/** Names the request's scope in the operation's access event when it is sensitive. */
function involved(ctx: Ctx, request: AccessRequestRow): AccessRequestRow {
  noteSensitiveScope(ctx, request.scope);
  return request;
}

export const accessRequestResolvers = {
  Query: {
    myAccessRequests: (_: unknown, args: { status?: AccessRequestStatus | null }, ctx: Ctx) =>
      ctx.services.accessRequests.mine(ctx.caller, args.status),
    accessRequestsAwaitingMyApproval: (_: unknown, __: unknown, ctx: Ctx) =>
      ctx.services.accessRequests.awaitingApproval(ctx.caller),
  },
  Mutation: {
    requestAccess: async (_: unknown, args: { input: RequestAccessInput }, ctx: Ctx) =>
      involved(ctx, await ctx.services.accessRequests.request(ctx.caller, args.input)),
    approveAccessRequest: async (
      _: unknown,
      args: { id: string; reason?: string | null },
      ctx: Ctx,
    ) => involved(ctx, await ctx.services.accessRequests.approve(ctx.caller, args.id, args.reason)),
    denyAccessRequest: async (_: unknown, args: { id: string; reason: string }, ctx: Ctx) =>
      involved(ctx, await ctx.services.accessRequests.deny(ctx.caller, args.id, args.reason)),
  },
  Subscription: {
    accessRequests: {
      subscribe: (_: unknown, __: unknown, ctx: Ctx) =>
        ctx.services.accessRequests.subscribe(ctx.caller),
      resolve: (request: AccessRequestRow) => request,
    },
  },
  AccessRequest: {
    status: (request: AccessRequestRow) => effectiveStatus(request),
    requester: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.identity.load(request.requesterId),
    identity: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.identity.load(request.identityId),
    scope: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.scope.load(request.scope),
    decidedBy: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      request.decidedBy === null ? null : ctx.loaders.identity.load(request.decidedBy),
    grant: async (request: AccessRequestRow, _: unknown, ctx: Ctx) => {
      if (request.grantId === null) return null;
      const held = await ctx.loaders.grants.load({ identityId: request.identityId, active: false });
      return held.find((g) => g.id === request.grantId) ?? null;
    },
  },
} satisfies Resolvers;

import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AccessRequestRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { noteSensitiveScope } from '../audit/note-sensitive-scope.js';
import { assertCallerHolds } from '../grants/caller-authority.js';
import { type AccessRequestStatus, effectiveStatus } from './access-request-status.js';
import type { RequestAccessInput } from './request-access.js';

type Ctx = KeyholderContext;

/** Names the request's scope in the operation's access event when it is sensitive. */
function involved(ctx: Ctx, request: AccessRequestRow): AccessRequestRow {
  if (request.scope !== null) noteSensitiveScope(ctx, request.scope);
  return request;
}

/**
 * Deciding a request of a scope needs `grants:write` and `grants:read`; deciding a request to join
 * a group needs managing that group instead (`groups:write` on its name, which the decision itself
 * checks). SDL cannot say "depending on the request", so the schema says `@authenticated`.
 */
async function assertMayDecideKind(ctx: Ctx, id: string): Promise<void> {
  const request = await ctx.services.accessRequests.find(id);
  if (request === null || request.scope === null) return;
  for (const scope of ['grants:write', 'grants:read']) {
    assertCallerHolds(
      ctx,
      scope,
      null,
      `Deciding access request ${request.id}, for scope "${request.scope}", needs the scopes "grants:write" and "grants:read".`,
      { required: { allOf: ['grants:write', 'grants:read'] } },
    );
  }
}

/**
 * Listing or watching requests to decide needs `grants:write` (requests of scopes) or managing
 * some group (`groups:write` on it): `FORBIDDEN` otherwise, before anything is read.
 */
function assertDecidesSomething(ctx: Ctx, what: string): void {
  if (ctx.caller.grants.some((g) => g.scope === 'groups:write')) return;
  assertCallerHolds(
    ctx,
    'grants:write',
    null,
    `${what} needs "grants:write" (requests of scopes) or "groups:write" on a group (requests to join it).`,
    { required: { anyOf: ['grants:write', 'groups:write'] } },
  );
}

export const accessRequestResolvers = {
  Query: {
    myAccessRequests: (_: unknown, args: { status?: AccessRequestStatus | null }, ctx: Ctx) =>
      ctx.services.accessRequests.mine(ctx.caller, args.status),
    accessRequestsAwaitingMyApproval: (_: unknown, __: unknown, ctx: Ctx) => {
      assertDecidesSomething(ctx, 'Listing the requests awaiting your approval');
      return ctx.services.accessRequests.awaitingApproval(ctx.caller);
    },
  },
  Mutation: {
    requestAccess: async (_: unknown, args: { input: RequestAccessInput }, ctx: Ctx) =>
      involved(ctx, await ctx.services.accessRequests.request(ctx.caller, args.input)),
    approveAccessRequest: async (
      _: unknown,
      args: { id: string; reason?: string | null },
      ctx: Ctx,
    ) => {
      await assertMayDecideKind(ctx, args.id);
      return involved(
        ctx,
        await ctx.services.accessRequests.approve(ctx.caller, args.id, args.reason),
      );
    },
    denyAccessRequest: async (_: unknown, args: { id: string; reason: string }, ctx: Ctx) => {
      await assertMayDecideKind(ctx, args.id);
      return involved(
        ctx,
        await ctx.services.accessRequests.deny(ctx.caller, args.id, args.reason),
      );
    },
  },
  Subscription: {
    accessRequests: {
      subscribe: (_: unknown, __: unknown, ctx: Ctx) => {
        assertDecidesSomething(ctx, 'Watching access requests');
        return ctx.services.accessRequests.subscribe(ctx.caller);
      },
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
      request.scope === null ? null : ctx.loaders.scope.load(request.scope),
    group: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      request.groupId === null ? null : ctx.loaders.teams.group.load(request.groupId),
    membership: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      request.membershipId === null
        ? null
        : ctx.loaders.teams.membership.load(request.membershipId),
    decidedBy: (request: AccessRequestRow, _: unknown, ctx: Ctx) =>
      request.decidedBy === null ? null : ctx.loaders.identity.load(request.decidedBy),
    grant: async (request: AccessRequestRow, _: unknown, ctx: Ctx) => {
      if (request.grantId === null) return null;
      const held = await ctx.loaders.grants.load({ identityId: request.identityId, active: false });
      return held.find((g) => g.id === request.grantId) ?? null;
    },
  },
} satisfies Resolvers;

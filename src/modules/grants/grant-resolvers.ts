import type { GrantRow } from '../../db/tables.js';
import type { KeyholderContext } from '../../server/context.js';
import type { AccessDecision } from './check-access.js';
import { checkAccess } from './check-access.js';
import { type GrantFilter, type GrantInput, isActive } from './grant-service.js';

type Ctx = KeyholderContext;

export const grantResolvers = {
  Query: {
    grants: (
      _: unknown,
      args: { first?: number; after?: string; filter?: GrantFilter },
      ctx: Ctx,
    ) => ctx.services.grants.list(args.first, args.after, args.filter),
    check: (
      _: unknown,
      args: { identityId: string; scope: string; resource?: string | null },
      ctx: Ctx,
    ) => checkAccess(ctx, args.identityId, args.scope, args.resource),
  },
  Mutation: {
    grant: (_: unknown, args: { input: GrantInput }, ctx: Ctx) =>
      ctx.services.grants.grant(ctx.caller, args.input),
    revokeGrant: (_: unknown, args: { id: string; reason: string }, ctx: Ctx) =>
      ctx.services.grants.revoke(ctx.caller, args.id, args.reason),
  },
  Grant: {
    identity: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.identity.load(grant.identityId),
    scope: (grant: GrantRow, _: unknown, ctx: Ctx) => ctx.loaders.scope.load(grant.scope),
    grantedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.grantedBy === null ? null : ctx.loaders.identity.load(grant.grantedBy),
    revokedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.revokedBy === null ? null : ctx.loaders.identity.load(grant.revokedBy),
    active: (grant: GrantRow) => isActive(grant),
  },
  Decision: {
    grant: async (decision: AccessDecision, _: unknown, ctx: Ctx) => {
      if (decision.grant === null) return null;
      const rows = await ctx.loaders.grants.load({ identityId: decision.identityId, active: true });
      return rows.find((g) => g.id === decision.grant?.id) ?? null;
    },
  },
};

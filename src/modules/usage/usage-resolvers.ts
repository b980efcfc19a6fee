import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { GrantRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';

type Ctx = KeyholderContext;

export const usageResolvers = {
  Query: {
    unusedGrants: async (
      _: unknown,
      args: { olderThanSeconds: number; first?: number | null; after?: string | null },
      ctx: Ctx,
    ) => {
      const page = await ctx.services.usage.unusedGrants(
        args.olderThanSeconds,
        args.first,
        args.after,
      );
      for (const { grant, usage } of page.nodes) ctx.loaders.grantUsage.prime(grant.id, usage);
      return { nodes: page.nodes.map((n) => n.grant), pageInfo: page.pageInfo };
    },
  },
  Mutation: {
    reportGrantUse: (_: unknown, args: { grantIds: readonly string[] }, ctx: Ctx) =>
      ctx.services.usage.reportUses(ctx.services.grantUsage, args.grantIds),
    setScopeReaping: (
      _: unknown,
      args: { scope: string; unusedForSeconds?: number | null },
      ctx: Ctx,
    ) => ctx.services.usage.setScopeReaping(ctx.caller, args.scope, args.unusedForSeconds),
  },
  Grant: {
    lastUsedAt: async (grant: GrantRow, _: unknown, ctx: Ctx) =>
      (await ctx.loaders.grantUsage.load(grant.id))?.lastUsedAt ?? null,
    useCount: async (grant: GrantRow, _: unknown, ctx: Ctx) =>
      (await ctx.loaders.grantUsage.load(grant.id))?.useCount ?? 0,
  },
} satisfies Resolvers;

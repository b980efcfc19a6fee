import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { IdentityRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { parseId } from '../shared/validate.js';
import type { CreateIdentityInput, IdentityFilter } from './identity-service.js';

type Ctx = KeyholderContext;

export const identityResolvers = {
  Query: {
    me: (_: unknown, __: unknown, ctx: Ctx) => ctx.loaders.identity.load(ctx.caller.identity.id),
    identity: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.loaders.identity.load(parseId(args.id, 'identity')),
    identities: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: IdentityFilter | null },
      ctx: Ctx,
    ) => ctx.services.identities.list(args.first, args.after, args.filter),
  },
  Mutation: {
    createIdentity: (_: unknown, args: { input: CreateIdentityInput }, ctx: Ctx) =>
      ctx.services.identities.create(ctx.caller, args.input),
    revokeOwnedAccess: (
      _: unknown,
      args: { reason: string; identityId?: string | null },
      ctx: Ctx,
    ) => ctx.services.identities.revokeOwnedAccess(ctx.caller, args.reason, args.identityId),
    disableIdentity: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.services.identities.disable(ctx.caller, args.id),
    enableIdentity: (_: unknown, args: { id: string; reason: string }, ctx: Ctx) =>
      ctx.services.identities.enable(ctx.caller, args.id, args.reason),
    setIdentityAttributes: (_: unknown, args: { id: string; attributes: unknown }, ctx: Ctx) =>
      ctx.services.identities.setAttributes(ctx.caller, args.id, args.attributes),
  },
  Identity: {
    createdBy: (identity: IdentityRow, _: unknown, ctx: Ctx) =>
      identity.createdBy === null ? null : ctx.loaders.identity.load(identity.createdBy),
    grants: (identity: IdentityRow, args: { active: boolean | null }, ctx: Ctx) =>
      ctx.loaders.grants.load({ identityId: identity.id, active: args.active !== false }),
    apiKeys: (identity: IdentityRow, _: unknown, ctx: Ctx) => ctx.loaders.apiKeys.load(identity.id),
    owner: (identity: IdentityRow, _: unknown, ctx: Ctx) =>
      identity.ownerId === null ? null : ctx.loaders.identity.load(identity.ownerId),
    ownedIdentities: (identity: IdentityRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.ownedIdentities.load(identity.id),
  },
} satisfies Resolvers;

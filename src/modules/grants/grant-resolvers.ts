import { isCappedByOwner } from '../../authz/cap-to-owner.js';
import type { CheckContextInput } from '../../conditions/parse-condition-override.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { GrantRow } from '../../db/tables.js';
import { notFound } from '../../errors.js';
import { noteSensitiveScope } from '../audit/note-sensitive-scope.js';
import type { Revision } from '../revision/revision.js';
import { parseId } from '../shared/validate.js';
import type { AccessDecision } from './check-access.js';
import { checkAccess } from './check-access.js';
import { effectivePermissions } from './effective-permissions.js';
import type { GrantFilter, GrantInput } from './grant-service.js';
import { isLive } from './live-grants.js';

type Ctx = KeyholderContext;

/**
 * Names a sensitive checked scope in the operation's access event; a `check` that answers no about it is recorded as a denial (so the event is `access.denied`, and alerts fire).
 */
function recordCheck(ctx: Ctx, decision: AccessDecision): AccessDecision {
  noteSensitiveScope(ctx, decision.scope);
  if (!decision.allowed && ctx.services.sensitiveScopes.has(decision.scope)) {
    ctx.access?.refused('Query.check', 'DENIED', decision.reason, [decision.scope]);
  }
  return decision;
}

export const grantResolvers = {
  Query: {
    grants: (
      _: unknown,
      args: { first?: number; after?: string; filter?: GrantFilter },
      ctx: Ctx,
    ) => ctx.services.grants.list(args.first, args.after, args.filter),
    check: async (
      _: unknown,
      args: {
        identityId: string;
        scope: string;
        resource?: string | null;
        atLeastRevision?: Revision | null;
        context?: CheckContextInput | null;
      },
      ctx: Ctx,
    ) => {
      return recordCheck(
        ctx,
        await checkAccess(
          ctx,
          args.identityId,
          args.scope,
          args.resource,
          args.atLeastRevision,
          args.context,
        ),
      );
    },
    whoCan: async (_: unknown, args: { scope: string; resource?: string | null }, ctx: Ctx) => {
      const holders = await ctx.services.grants.whoCan(args.scope, args.resource);
      noteSensitiveScope(ctx, args.scope);
      return holders;
    },
    effectivePermissions: async (_: unknown, args: { identityId: string }, ctx: Ctx) => {
      const id = parseId(args.identityId, 'identity');
      const identity = await ctx.loaders.identity.load(id);
      if (identity === null) throw notFound(`Identity ${id} does not exist.`);
      const ownerId = isCappedByOwner(identity) ? identity.ownerId : null;
      const [held, owner, ownerGrants] = await Promise.all([
        ctx.loaders.grants.load({ identityId: id, active: true }),
        ownerId === null ? null : ctx.loaders.identity.load(ownerId),
        ownerId === null ? [] : ctx.loaders.grants.load({ identityId: ownerId, active: true }),
      ]);
      return effectivePermissions(identity, held, { identity: owner, grants: ownerGrants });
    },
  },
  Mutation: {
    grant: async (_: unknown, args: { input: GrantInput }, ctx: Ctx) => {
      const made = await ctx.services.grants.grant(ctx.caller, args.input);
      noteSensitiveScope(ctx, made.scope);
      return made;
    },
    revokeGrant: (_: unknown, args: { id: string; reason: string }, ctx: Ctx) =>
      ctx.services.grants.revoke(ctx.caller, args.id, args.reason),
    revokeAllGrants: (_: unknown, args: { identityId: string; reason: string }, ctx: Ctx) =>
      ctx.services.grants.revokeAll(ctx.caller, args.identityId, args.reason),
  },
  Grant: {
    identity: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.identity.load(grant.identityId),
    scope: (grant: GrantRow, _: unknown, ctx: Ctx) => ctx.loaders.scope.load(grant.scope),
    policyCondition: async (grant: GrantRow, _: unknown, ctx: Ctx) =>
      (await ctx.loaders.scope.load(grant.scope))?.condition ?? null,
    grantedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.grantedBy === null ? null : ctx.loaders.identity.load(grant.grantedBy),
    revokedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.revokedBy === null ? null : ctx.loaders.identity.load(grant.revokedBy),
    active: (grant: GrantRow) => isLive(grant),
  },
  Decision: {
    grant: async (decision: AccessDecision, _: unknown, ctx: Ctx) => {
      if (decision.grant === null) return null;
      const rows = await ctx.loaders.grants.load({ identityId: decision.identityId, active: true });
      return rows.find((g) => g.id === decision.grant?.id) ?? null;
    },
  },
};

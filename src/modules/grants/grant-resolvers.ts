import { notFound } from 'keyholder-directive/errors.js';
import type { CheckContextInput } from '../../conditions/parse-condition-override.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { GrantRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { noteSensitiveScope } from '../audit/note-sensitive-scope.js';
import type { Revision } from '../revision/revision.js';
import { parseId } from '../shared/validate.js';
import type { AccessDecision } from './check-access.js';
import { checkAccess, explainDecision } from './check-access.js';
import { effectivePermissions, type Permission } from './effective-permissions.js';
import { type GrantPathView, pathGroupNames, pathOf } from './grant-path.js';
import type { GrantFilter, GrantInput } from './grant-service.js';
import { isLive } from './live-grants.js';
import type { Holder, HolderPage, WhoCanQuery } from './who-can.js';

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
      args: { first?: number | null; after?: string | null; filter?: GrantFilter | null },
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
        resourceType?: string | null;
        properties?: unknown;
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
          args.resourceType,
          args.properties,
        ),
      );
    },
    whoCan: async (_: unknown, args: WhoCanQuery, ctx: Ctx) => {
      const holders = await ctx.services.grants.whoCan(args);
      noteSensitiveScope(ctx, args.scope);
      return holders;
    },
    effectivePermissions: async (_: unknown, args: { identityId: string }, ctx: Ctx) => {
      const id = parseId(args.identityId, 'identity');
      const [identity, effective] = await Promise.all([
        ctx.loaders.identity.load(id),
        ctx.loaders.liveGrants.load(id),
      ]);
      if (identity === null) throw notFound(`Identity ${id} does not exist.`);
      return effectivePermissions(identity, effective);
    },
  },
  Mutation: {
    grant: async (_: unknown, args: { input: GrantInput }, ctx: Ctx) => {
      const gate = ctx.conditions.gate();
      const made = await ctx.services.grants.grant(ctx.caller, args.input, (grant, resource) =>
        gate.admits(grant, resource),
      );
      if (made.scope !== null) noteSensitiveScope(ctx, made.scope);
      return made;
    },
    revokeGrant: (
      _: unknown,
      args: { id: string; reason: string; cascade?: boolean | null },
      ctx: Ctx,
    ) => ctx.services.grants.revoke(ctx.caller, args.id, args.reason, args.cascade ?? null),
    revokeAllGrants: (_: unknown, args: { identityId: string; reason: string }, ctx: Ctx) =>
      ctx.services.grants.revokeAll(ctx.caller, args.identityId, args.reason),
  },
  Grant: {
    identity: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.identityId === null ? null : ctx.loaders.identity.load(grant.identityId),
    group: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.groupId === null ? null : ctx.loaders.teams.group.load(grant.groupId),
    scope: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.scope === null ? null : ctx.loaders.scope.load(grant.scope),
    role: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.role === null ? null : ctx.loaders.teams.role.load(grant.role),
    authorizedGrants: (grant: GrantRow, args: { active?: boolean | null }, ctx: Ctx) =>
      ctx.services.grants.authorizedBy(grant.id, args.active ?? true),
    policyCondition: async (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.scope === null
        ? null
        : ((await ctx.loaders.scope.load(grant.scope))?.condition ?? null),
    grantedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.grantedBy === null ? null : ctx.loaders.identity.load(grant.grantedBy),
    revokedBy: (grant: GrantRow, _: unknown, ctx: Ctx) =>
      grant.revokedBy === null ? null : ctx.loaders.identity.load(grant.revokedBy),
    active: (grant: GrantRow) => isLive(grant),
  },
  Decision: {
    reason: (decision: AccessDecision, _: unknown, ctx: Ctx) => explainDecision(ctx, decision),
    grant: (decision: AccessDecision, _: unknown, ctx: Ctx) =>
      decision.grant === null ? null : ctx.loaders.grant.load(decision.grant.id),
    path: (decision: AccessDecision) => (decision.grant === null ? null : pathOf(decision.grant)),
  },
  Permission: {
    grants: async (permission: Permission, _: unknown, ctx: Ctx) => {
      const ids = [...new Set(permission.held.map((g) => g.id))];
      const rows = await Promise.all(ids.map((id) => ctx.loaders.grant.load(id)));
      return rows.filter((row) => row !== null);
    },
    paths: (permission: Permission) => permission.held.map(pathOf),
  },
  HolderConnection: {
    totalCount: (page: HolderPage) => page.totalCount(),
  },
  Holder: {
    identity: (holder: Holder, _: unknown, ctx: Ctx) =>
      ctx.loaders.identity.load(holder.identityId),
    grant: (holder: Holder, _: unknown, ctx: Ctx) => ctx.loaders.grant.load(holder.grantId),
    path: (holder: Holder): GrantPathView => holder,
  },
  GrantPath: {
    groups: (path: GrantPathView, _: unknown, ctx: Ctx) => pathGroupNames(ctx, path.membershipIds),
    membershipId: (path: GrantPathView) => path.membershipIds[0] ?? null,
  },
} satisfies Resolvers;

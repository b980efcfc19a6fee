import { notFound } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { GroupMemberRow, GroupRow, IdentityRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { parseId } from '../shared/validate.js';
import { assertManagesGroup } from './assert-manages-group.js';
import type { CreateGroupInput, GroupFilter, GroupMembersInput } from './group-service.js';

type Ctx = KeyholderContext;

/** The live group a management mutation names, once the caller may manage it. */
async function managedGroup(ctx: Ctx, rawId: string, what: string): Promise<GroupRow> {
  const id = parseId(rawId, 'group');
  const group = await ctx.services.groups.get(id);
  if (group === null || group.deletedAt !== null) throw notFound(`Group ${id} does not exist.`);
  assertManagesGroup(ctx, group, `${what} group "${group.name}"`);
  return group;
}

export const groupResolvers = {
  Query: {
    group: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.loaders.teams.group.load(parseId(args.id, 'group')),
    groups: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: GroupFilter | null },
      ctx: Ctx,
    ) => ctx.services.groups.list(args.first, args.after, args.filter),
  },
  Mutation: {
    createGroup: (_: unknown, args: { input: CreateGroupInput }, ctx: Ctx) => {
      assertManagesGroup(ctx, { name: args.input.name }, 'Creating');
      return ctx.services.groups.create(ctx.caller, args.input);
    },
    addGroupMembers: async (_: unknown, args: { input: GroupMembersInput }, ctx: Ctx) => {
      await managedGroup(ctx, args.input.groupId, 'Adding members to');
      return ctx.services.groups.addMembers(ctx.caller, args.input);
    },
    removeGroupMembers: async (_: unknown, args: { input: GroupMembersInput }, ctx: Ctx) => {
      await managedGroup(ctx, args.input.groupId, 'Removing members from');
      return ctx.services.groups.removeMembers(ctx.caller, args.input);
    },
    deleteGroup: async (_: unknown, args: { id: string; reason: string }, ctx: Ctx) => {
      await managedGroup(ctx, args.id, 'Deleting');
      return ctx.services.groups.delete(ctx.caller, args.id, args.reason);
    },
    setGroupTokenIssuer: async (
      _: unknown,
      args: { groupId: string; issuer?: string | null; reason: string },
      ctx: Ctx,
    ) => {
      await managedGroup(ctx, args.groupId, 'Feeding from tokens');
      return ctx.services.groups.setTokenIssuer(
        ctx.caller,
        args.groupId,
        args.issuer ?? null,
        args.reason,
      );
    },
  },
  Group: {
    createdBy: (group: GroupRow, _: unknown, ctx: Ctx) =>
      group.createdBy === null ? null : ctx.loaders.identity.load(group.createdBy),
    tokenFedBy: (group: GroupRow, _: unknown, ctx: Ctx) =>
      group.tokenFedBy === null ? null : ctx.loaders.identity.load(group.tokenFedBy),
    members: (group: GroupRow, args: { first?: number | null; after?: string | null }, ctx: Ctx) =>
      ctx.services.groups.members(group.id, args.first, args.after),
    grants: (group: GroupRow, args: { active: boolean | null }, ctx: Ctx) =>
      ctx.loaders.teams.groupGrants.load({ id: group.id, active: args.active !== false }),
    memberOf: async (group: GroupRow, _: unknown, ctx: Ctx) => {
      const parents = await ctx.loaders.teams.parentsOf.load(group.id);
      const rows = await Promise.all(parents.map((p) => ctx.loaders.teams.group.load(p.groupId)));
      return rows.filter((row) => row !== null);
    },
  },
  GroupMembership: {
    group: (membership: GroupMemberRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.teams.group.load(membership.groupId),
    identity: (membership: GroupMemberRow, _: unknown, ctx: Ctx) =>
      membership.memberIdentityId === null
        ? null
        : ctx.loaders.identity.load(membership.memberIdentityId),
    memberGroup: (membership: GroupMemberRow, _: unknown, ctx: Ctx) =>
      membership.memberGroupId === null
        ? null
        : ctx.loaders.teams.group.load(membership.memberGroupId),
    addedBy: (membership: GroupMemberRow, _: unknown, ctx: Ctx) =>
      membership.addedBy === null ? null : ctx.loaders.identity.load(membership.addedBy),
  },
  Identity: {
    groups: async (identity: IdentityRow, _: unknown, ctx: Ctx) => {
      // One entry per group, by its shortest path (the statement orders by depth).
      const reached = (await ctx.services.groups.reachedBy(identity.id)).filter(
        (r, i, all) => all.findIndex((other) => other.groupId === r.groupId) === i,
      );
      const names = new Map<string, string>();
      for (const id of new Set(reached.flatMap((r) => r.groupPath))) {
        names.set(id, (await ctx.loaders.teams.group.load(id))?.name ?? id);
      }
      const sources = await Promise.all(
        reached.map((r) =>
          r.path[0] === undefined ? null : ctx.loaders.teams.membership.load(r.path[0]),
        ),
      );
      return reached.map((r, i) => ({
        groupId: r.groupId,
        name: names.get(r.groupId) ?? r.groupId,
        direct: r.depth === 1,
        path: r.groupPath.map((id) => names.get(id) ?? id),
        expiresAt: r.expiresAt,
        source: sources[i]?.source ?? 'MANUAL',
      }));
    },
  },
  IdentityGroup: {
    group: (entry: { groupId: string }, _: unknown, ctx: Ctx) =>
      ctx.loaders.teams.group.load(entry.groupId),
  },
} satisfies Resolvers;

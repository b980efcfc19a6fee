import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { RoleRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import type { DefineRoleInput, RoleScopeInput } from './role-service.js';

type Ctx = KeyholderContext;

export const roleResolvers = {
  Query: {
    role: (_: unknown, args: { name: string }, ctx: Ctx) => ctx.services.roles.get(args.name),
    roles: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.roles.list(),
  },
  Mutation: {
    defineRole: (_: unknown, args: { input: DefineRoleInput }, ctx: Ctx) =>
      ctx.services.roles.define(ctx.caller, args.input),
    setRoleScopes: (
      _: unknown,
      args: { role: string; scopes: readonly RoleScopeInput[]; reason: string },
      ctx: Ctx,
    ) => ctx.services.roles.setScopes(ctx.caller, args.role, args.scopes, args.reason),
    deleteRole: (_: unknown, args: { name: string; reason: string }, ctx: Ctx) =>
      ctx.services.roles.delete(ctx.caller, args.name, args.reason),
  },
  Role: {
    scopes: (role: RoleRow, _: unknown, ctx: Ctx) => ctx.loaders.teams.roleScopes.load(role.name),
    createdBy: (role: RoleRow, _: unknown, ctx: Ctx) =>
      role.createdBy === null ? null : ctx.loaders.identity.load(role.createdBy),
    grants: (role: RoleRow, args: { active: boolean | null }, ctx: Ctx) =>
      ctx.loaders.teams.roleGrants.load({ id: role.name, active: args.active !== false }),
  },
} satisfies Resolvers;

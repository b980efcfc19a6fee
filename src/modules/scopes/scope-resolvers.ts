import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { ScopeRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { policyOf, type ScopePolicy, type ScopePolicyInput } from './scope-policy.js';
import type { DefineScopeInput } from './scope-service.js';

type Ctx = KeyholderContext;

export const scopeResolvers = {
  Query: {
    scope: (_: unknown, args: { name: string }, ctx: Ctx) => ctx.loaders.scope.load(args.name),
    scopes: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.scopes.list(),
  },
  Mutation: {
    defineScope: (_: unknown, args: { input: DefineScopeInput }, ctx: Ctx) =>
      ctx.services.scopes.define(ctx.caller, args.input),
    setScopePolicy: (_: unknown, args: { scope: string; input: ScopePolicyInput }, ctx: Ctx) =>
      ctx.services.scopes.setPolicy(ctx.caller, args.scope, args.input),
    setScopeAliases: (
      _: unknown,
      args: { scope: string; aliases: readonly string[]; reason: string },
      ctx: Ctx,
    ) => ctx.services.scopes.setAliases(ctx.caller, args.scope, args.aliases, args.reason),
  },
  Scope: {
    policy: (scope: ScopeRow) => policyOf(scope),
    aliases: (scope: ScopeRow, _: unknown, ctx: Ctx) => ctx.loaders.scopeAliases.load(scope.name),
    grantsOutlivingPolicy: (scope: ScopeRow, _: unknown, ctx: Ctx) =>
      ctx.services.scopes.outliving(scope),
  },
  ScopePolicy: {
    autoApproveSetBy: (policy: ScopePolicy, _: unknown, ctx: Ctx) =>
      policy.autoApproveSetBy === null ? null : ctx.loaders.identity.load(policy.autoApproveSetBy),
  },
} satisfies Resolvers;

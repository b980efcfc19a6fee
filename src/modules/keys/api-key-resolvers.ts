import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { ApiKeyRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import type { CreateApiKeyInput } from './api-key-service.js';

type Ctx = KeyholderContext;

export const apiKeyResolvers = {
  Mutation: {
    createApiKey: (_: unknown, args: { input: CreateApiKeyInput }, ctx: Ctx) =>
      ctx.services.apiKeys.create(ctx.caller, args.input),
    revokeApiKey: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.services.apiKeys.revoke(ctx.caller, args.id),
  },
  ApiKey: {
    identity: (key: ApiKeyRow, _: unknown, ctx: Ctx) => ctx.loaders.identity.load(key.identityId),
    active: (key: ApiKeyRow) =>
      key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > Date.now()),
  },
} satisfies Resolvers;

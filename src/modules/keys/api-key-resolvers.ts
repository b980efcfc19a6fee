import { forbidden } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { ApiKeyRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { callerHolds } from '../grants/caller-authority.js';
import type { CreateApiKeyInput } from './api-key-service.js';

type Ctx = KeyholderContext;

export const apiKeyResolvers = {
  Mutation: {
    createApiKey: (_: unknown, args: { input: CreateApiKeyInput }, ctx: Ctx) => {
      // `orSelf` lets anyone create a key for themselves; only a scoped one needs nothing more.
      const { input } = args;
      const required = ['identities:write', 'identities:read'];
      if (
        (input.scopes === null || input.scopes === undefined) &&
        !required.every((scope) => callerHolds(ctx, scope, null))
      ) {
        throw forbidden(
          'Access to "Mutation.createApiKey" requires scopes "identities:write", "identities:read". A key for yourself that names its scopes needs neither.',
          { required: { allOf: required } },
        );
      }
      return ctx.services.apiKeys.create(ctx.caller, input);
    },
    revokeApiKey: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.services.apiKeys.revoke(ctx.caller, args.id),
  },
  ApiKey: {
    identity: (key: ApiKeyRow, _: unknown, ctx: Ctx) => ctx.loaders.identity.load(key.identityId),
    active: (key: ApiKeyRow) =>
      key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > Date.now()),
  },
} satisfies Resolvers;

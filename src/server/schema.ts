import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLScalarType, GraphQLScalarTypeConfig, GraphQLSchema } from 'graphql';
import { JSONResolver, SafeIntResolver } from 'graphql-scalars';
import { assertRootFieldsGuarded } from 'keyholder-directive/directive/assert-root-fields-guarded.js';
import { requiresDirective } from 'keyholder-directive/directive/requires-directive.js';
import { requiresTypeDefs } from 'keyholder-directive/directive/type-defs.js';
import type { KeyholderContext } from '../context/keyholder-context.js';
import { accessRequestResolvers } from '../modules/access-requests/access-request-resolvers.js';
import { accessReviewResolvers } from '../modules/access-reviews/access-review-resolvers.js';
import { auditResolvers } from '../modules/audit/audit-resolvers.js';
import { grantResolvers } from '../modules/grants/grant-resolvers.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import { groupResolvers } from '../modules/groups/group-resolvers.js';
import { identityResolvers } from '../modules/identities/identity-resolvers.js';
import { apiKeyResolvers } from '../modules/keys/api-key-resolvers.js';
import { RevisionScalar } from '../modules/revision/revision.js';
import { roleResolvers } from '../modules/roles/role-resolvers.js';
import { scopeResolvers } from '../modules/scopes/scope-resolvers.js';
import { DateTimeScalar } from '../modules/shared/date-time-scalar.js';
import { usageResolvers } from '../modules/usage/usage-resolvers.js';
import { webhookResolvers } from '../modules/webhooks/webhook-resolvers.js';
import { packageRoot } from '../package-root.js';
import { tracedDecisions } from '../telemetry/traced-decisions.js';
import { traced, tracingOn } from '../telemetry/tracing.js';

/**
 * Keyholder's SDL: the directives as the library declares them (their one source), then every
 * `schema/*.graphql` file.
 */
export function keyholderTypeDefs(): string[] {
  const dir = join(packageRoot(), 'schema');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
  return [requiresTypeDefs, ...files];
}

/**
 * A scalar's coercion only: handing graphql-tools the whole `GraphQLScalarType` copies its
 * (missing or generic) description over the one written in `schema/`, so the served schema lost it.
 */
function scalarBehaviour(scalar: GraphQLScalarType): GraphQLScalarType {
  const behaviour: GraphQLScalarTypeConfig<unknown, unknown> = {
    name: scalar.name,
    serialize: scalar.serialize,
    parseValue: scalar.parseValue,
    parseLiteral: scalar.parseLiteral,
  };
  // graphql-tools merges a plain config into the SDL's scalar field by field; the resolver map's
  // type only names the class.
  return behaviour as unknown as GraphQLScalarType;
}

/** Keyholder's resolver maps, one per domain (scalars first). */
export const keyholderResolvers = [
  {
    DateTime: scalarBehaviour(DateTimeScalar),
    JSON: scalarBehaviour(JSONResolver),
    Revision: scalarBehaviour(RevisionScalar),
    SafeInt: scalarBehaviour(SafeIntResolver),
  },
  identityResolvers,
  apiKeyResolvers,
  scopeResolvers,
  grantResolvers,
  auditResolvers,
  webhookResolvers,
  accessRequestResolvers,
  usageResolvers,
  accessReviewResolvers,
  groupResolvers,
  roleResolvers,
];

/**
 * Keyholder's executable schema, guarded by its own directive. Refuses (throws) if any root field
 * lacks `@requires` or `@authenticated`.
 */
export function buildKeyholderSchema(): GraphQLSchema {
  return guardKeyholderSchema(
    makeExecutableSchema({ typeDefs: keyholderTypeDefs(), resolvers: keyholderResolvers }),
  );
}

/**
 * Deny by default, then enforce: refuses (throws) a schema with an unguarded root field, and
 * returns it with every `@requires` / `@authenticated` enforced against the caller's live grants.
 */
export function guardKeyholderSchema(schema: GraphQLSchema): GraphQLSchema {
  assertRootFieldsGuarded(schema);
  const { transformer } = requiresDirective<KeyholderContext, ActiveGrant>({
    grants: (ctx) => (ctx.reloadGrants ? loadGrants(ctx.reloadGrants) : ctx.caller.grants),
    subscriptionRecheckMs: 500,
    principal: (ctx) => ctx.caller.identity.id,
    gate: (ctx) => ctx.conditions.gate(),
    decisions: (ctx) => (tracingOn() ? tracedDecisions(ctx.uses) : ctx.uses),
  });
  return transformer(schema);
}

/**
 * A subscription event's fresh grants, in a `keyholder.grants.load` span when tracing is on (an
 * HTTP operation's grants come with its authentication, in `keyholder.authenticate`).
 */
function loadGrants(
  reload: () => Promise<readonly ActiveGrant[]>,
): Promise<readonly ActiveGrant[]> {
  return traced('keyholder.grants.load', {}, reload);
}

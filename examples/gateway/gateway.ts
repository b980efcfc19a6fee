import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import { type IStitchSchemasOptions, stitchSchemas } from '@graphql-tools/stitch';
import type { ExecutionRequest } from '@graphql-tools/utils';
import { schemaFromExecutor } from '@graphql-tools/wrap';
import { buildSchema, GraphQLSchema } from 'graphql';
import { remoteGrants, requiresDirective, requiresTypeDefs } from '../../src/index.js';
import { ordersTypeDefs } from './orders-schema.js';
import type { RunningService } from './running-service.js';

/** Options of `startGateway`. */
export interface GatewayOptions {
  /** Keyholder's GraphQL endpoint. */
  readonly keyholderUrl: string;
  /** The orders service's GraphQL endpoint. */
  readonly ordersUrl: string;
  /**
   * A key the gateway reads Keyholder's schema with when it starts (introspection needs a
   * caller). Give it an identity of its own holding no grant at all.
   */
  readonly introspectionKey: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

/** The gateway's per-request context: the caller's `Authorization` header, passed on as is. */
export interface GatewayContext {
  readonly authorization: string | null;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** A subschema as `stitchSchemas` takes it (typed from stitch's own copy of graphql-tools). */
type SubschemaConfig = Exclude<
  NonNullable<IStitchSchemasOptions<GatewayContext>['subschemas']>[number],
  GraphQLSchema
>;

/**
 * Keyholder's schema and the orders schema stitched into one, `Identity` merged across both
 * (the orders service's stub `Identity { id }` is completed by Keyholder's `identity(id:)`), and
 * the orders service's `@requires` enforced again on the composed schema against Keyholder.
 */
export async function createGatewaySchema(options: GatewayOptions): Promise<GraphQLSchema> {
  // Every subschema request carries the caller's own Authorization header. In-flight requests are
  // not shared between callers' requests: one that started before a revocation must not answer
  // one that started after it.
  const forwardAuthorization = (request?: ExecutionRequest) => {
    const authorization = (request?.context as GatewayContext | undefined)?.authorization;
    return authorization ? { authorization } : {};
  };
  const keyholderExecutor = buildHTTPExecutor({
    endpoint: options.keyholderUrl,
    headers: forwardAuthorization,
    deduplicateInflightRequests: false,
  });
  const keyholder: SubschemaConfig = {
    // Introspection carries no directive usages: Keyholder enforces its own fields itself.
    schema: withoutSubscriptions(
      await schemaFromExecutor(keyholderExecutor, {
        authorization: `Bearer ${options.introspectionKey}`,
      } satisfies GatewayContext),
    ),
    executor: keyholderExecutor,
    merge: {
      Identity: {
        fieldName: 'identity',
        selectionSet: '{ id }',
        args: (identity: { id: string }) => ({ id: identity.id }),
      },
    },
  };
  const orders: SubschemaConfig = {
    // The orders SDL, with its @requires, so the gateway can enforce them too.
    schema: buildSchema(`${requiresTypeDefs}\n${ordersTypeDefs}`),
    executor: buildHTTPExecutor({
      endpoint: options.ordersUrl,
      headers: forwardAuthorization,
      deduplicateInflightRequests: false,
    }),
  };

  const remote = remoteGrants<GatewayContext>({
    url: options.keyholderUrl,
    apiKey: (ctx) => BEARER.exec(ctx.authorization ?? '')?.[1] ?? null,
  });
  const { transformer } = requiresDirective<GatewayContext>({
    grants: remote.grants,
    principal: remote.principal,
  });
  return transformer(stitchSchemas({ subschemas: [keyholder, orders] }));
}

/** `schema` without its subscription root: the gateway reaches Keyholder over HTTP only. */
function withoutSubscriptions(schema: GraphQLSchema): GraphQLSchema {
  const { subscription, types, ...config } = schema.toConfig();
  return new GraphQLSchema({ ...config, types: types.filter((type) => type !== subscription) });
}

/** The example gateway on Apollo Server. */
export async function startGateway(options: GatewayOptions): Promise<RunningService> {
  const server = new ApolloServer<GatewayContext>({
    includeStacktraceInErrorResponses: false,
    schema: await createGatewaySchema(options),
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host: options.host ?? '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization ?? null }),
  });
  return { url: `${url.replace(/\/$/, '')}/graphql`, stop: () => server.stop() };
}

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { conditionContextOf, type RemoteGrantsOptions, remoteGrants } from '../../src/index.js';
import { createOrdersSchema, type OrderRecord, type OrdersContext } from './orders-schema.js';
import type { RunningService } from './running-service.js';

/** Options of `startOrdersService`. */
export interface OrdersServiceOptions {
  /** Keyholder's GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  readonly keyholderUrl: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The orders it starts with. @default none */
  readonly orders?: OrderRecord[];
  /** Passed on to `remoteGrants` (timeout, error hook, fetch). @default remoteGrants' defaults */
  readonly remote?: Omit<RemoteGrantsOptions<OrdersContext>, 'url' | 'apiKey'>;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The sample orders API on Apollo Server, its `@requires` enforced against Keyholder. */
export async function startOrdersService(options: OrdersServiceOptions): Promise<RunningService> {
  const remote = remoteGrants<OrdersContext>({
    ...options.remote,
    url: options.keyholderUrl,
    apiKey: (ctx) => ctx.apiKey,
    conditions: (ctx) => ctx.conditions ?? conditionContextOf({}),
  });
  const server = new ApolloServer<OrdersContext>({
    includeStacktraceInErrorResponses: false,
    schema: createOrdersSchema(remote, options.orders),
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host: options.host ?? '127.0.0.1' },
    context: async ({ req }) => ({
      apiKey: BEARER.exec(req.headers.authorization ?? '')?.[1] ?? null,
      // The peer address (no proxy in front of this sample) and one allow-listed header.
      conditions: conditionContextOf({
        ip: req.socket.remoteAddress ?? null,
        userAgent: req.headers['user-agent'] ?? null,
        headers:
          typeof req.headers['x-team'] === 'string' ? { 'x-team': req.headers['x-team'] } : {},
      }),
    }),
  });
  return { url: `${url.replace(/\/$/, '')}/graphql`, stop: () => server.stop() };
}

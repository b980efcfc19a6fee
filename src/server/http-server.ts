import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLSchema } from 'graphql';
import type { KeyholderContext } from '../context/keyholder-context.js';
import type { Services } from '../context/services.js';
import type { Database } from '../db/client.js';
import {
  databaseUnavailable,
  isDatabaseUnavailable,
  isDomainError,
  unauthenticated,
} from '../errors.js';
import type { AccessLogStatus } from '../modules/audit/access-log.js';
import type { ExpirySweeper } from '../modules/grants/expiry-sweeper.js';
import {
  AuthenticationCache,
  DEFAULT_AUTHENTICATION_CACHE_SIZE,
} from '../modules/keys/authentication-cache.js';
import type { KeyUsageRecorder } from '../modules/keys/key-usage-recorder.js';
import { bearerAuthenticator } from '../modules/tokens/bearer-authenticator.js';
import type { OidcIssuer } from '../modules/tokens/oidc-issuers.js';
import { useAccessLog } from './access-log-plugin.js';
import { apolloRequestHandler } from './apollo-request-handler.js';
import { authzenRoutes, isAuthzenPath } from './authzen/authzen-routes.js';
import { bearerSecretOf, createContext, requestMetaOf } from './context.js';
import { createFormatError } from './format-error.js';
import { useGrantUsage } from './grant-usage-plugin.js';
import { listCostPlugin } from './list-cost.js';
import { PrefetchPlanner } from './prefetch.js';
import { jsonBodyReader } from './read-json-body.js';
import { useRevision } from './revision-plugin.js';
import { startWsServer } from './ws-server.js';

export interface HttpServerOptions {
  readonly schema: GraphQLSchema;
  readonly database: Database;
  readonly services: Services;
  readonly keyUsage: KeyUsageRecorder;
  /** Shown by `/healthz`; `null` when switched off. */
  readonly expirySweeper?: ExpirySweeper | null;
  readonly production: boolean;
  readonly maxBodyBytes: number;
  /** Identity providers whose JWT bearer tokens are accepted beside API keys. @default [] */
  readonly oidcIssuers?: readonly OidcIssuer[];
  /**
   * Authentications kept for reuse while `revision_head` says they are current (see
   * `AuthenticationCache`), shared by HTTP and WebSocket; 0 keeps none. @default 1000
   */
  readonly authenticationCacheSize?: number;
  readonly log: (message: string, error?: unknown) => void;
}

export interface RunningHttpServer {
  readonly server: Server;
  readonly url: string;
  stop(): Promise<void>;
}

function bearerSecret(header: string | undefined): string {
  if (header === undefined || header === '') {
    throw unauthenticated('Authentication required: send "Authorization: Bearer <api key>".', {
      http: { status: 401 },
    });
  }
  const secret = bearerSecretOf(header);
  if (secret === null) {
    throw unauthenticated('The Authorization header must be "Bearer <api key>".', {
      http: { status: 401 },
    });
  }
  return secret;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });
}

/** The request's path and query string (`''` or starting with `?`). */
function splitUrl(url: string | undefined): { path: string; search: string } {
  const raw = url ?? '/';
  const mark = raw.indexOf('?');
  return mark === -1
    ? { path: raw, search: '' }
    : { path: raw.slice(0, mark), search: raw.slice(mark) };
}

/**
 * The access log writer as `/healthz` shows it: always with `ACCESS_LOG=on`; with it off (only
 * sensitive scopes' events) only while something is pending or failing, else `null`.
 */
function accessLogHealth(services: Services): AccessLogStatus | null {
  const status = services.accessLog.status();
  if (services.accessLogMode.all) return status;
  return status.pending > 0 || status.failingSince !== null ? status : null;
}

/**
 * HTTP front on `node:http`, no framework (see the README's "Stack"):
 * - `POST`/`GET /graphql`: the body read by `jsonBodyReader`, then Apollo Server (authenticated,
 *   armored, masked);
 * - `POST /access/v1/…` and `GET /.well-known/authzen-configuration`: the AuthZEN API
 *   (`authzenRoutes`);
 * - `GET /healthz`: 200 when the database answers, 503 otherwise; either way with the state of the
 *   access log writer, the expiry sweeper and the authentication cache;
 * - any other path or method: a JSON 404. A trailing slash is allowed on both paths.
 */
export async function startHttpServer(
  options: HttpServerOptions,
  listen: { port: number; host: string },
): Promise<RunningHttpServer> {
  const server = createServer();
  const armor = new ApolloArmor({
    maxDepth: { n: 10, ignoreIntrospection: true },
    maxAliases: { n: 15 },
    // Token limit is enforced by the parser itself (parseOptions below), so it is a 400 parse error.
    maxTokens: { enabled: false },
    maxDirectives: { n: 30 },
    // Cost is counted with lists (list-cost.ts): a per-field cost let a self-walk return 160,000 objects.
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: true },
  }).protect();

  const formatError = createFormatError(options.log);
  const apollo = new ApolloServer<KeyholderContext>({
    schema: options.schema,
    csrfPrevention: true,
    // main.ts owns shutdown; Apollo's own signal handlers would race it.
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: true,
    parseOptions: { maxTokens: 2000 },
    introspection: true,
    validationRules: armor.validationRules,
    formatError,
    plugins: [
      // graphql-armor's types come from Apollo's CommonJS build; the plugin objects are the same.
      ...(armor.plugins as unknown as ApolloServerPlugin<KeyholderContext>[]),
      listCostPlugin<KeyholderContext>(),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // No @cacheControl hints: every answer is per caller, so `no-store` is set below instead of
      // paying the cache-control plugin's per-field hook on every request.
      ApolloServerPluginCacheControlDisabled(),
      // As a federation subgraph: no per-field timing traces (ftv1) for whoever asks for them.
      ApolloServerPluginInlineTraceDisabled(),
      ...(options.production ? [ApolloServerPluginLandingPageDisabled()] : []),
      useRevision(),
      useGrantUsage(options.services.grantUsage),
      useAccessLog(options.services.accessLog, options.services.accessLogMode, options.log),
    ],
  });
  await apollo.start();

  const prefetch = new PrefetchPlanner();
  const authenticationCache = new AuthenticationCache(
    options.database,
    options.authenticationCacheSize ?? DEFAULT_AUTHENTICATION_CACHE_SIZE,
  );
  const authenticate = bearerAuthenticator(
    options.database,
    options.oidcIssuers ?? [],
    options.log,
    authenticationCache,
  );
  const health = async (res: ServerResponse): Promise<void> => {
    const accessLog = accessLogHealth(options.services);
    const expirySweeper = options.expirySweeper?.status() ?? null;
    const state = { accessLog, expirySweeper, authenticationCache: authenticationCache.stats() };
    const engine = options.database.engine;
    try {
      await Promise.race([
        options.database.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      sendJson(res, 200, { status: 'ok', database: engine, ...state });
    } catch {
      sendJson(res, 503, { status: 'unavailable', database: engine, ...state });
    }
  };

  const graphql = apolloRequestHandler(
    apollo,
    async ({ req, res, body, search }): Promise<KeyholderContext> => {
      const requestId = randomUUID();
      res.setHeader('x-request-id', requestId);
      res.setHeader('cache-control', 'no-store');
      const secret = bearerSecret(req.headers.authorization);
      const source =
        req.method === 'GET'
          ? Object.fromEntries(new URLSearchParams(search))
          : (body as Record<string, unknown> | undefined);
      let variables: unknown = source?.variables;
      if (typeof variables === 'string') {
        try {
          variables = JSON.parse(variables);
        } catch {
          variables = undefined;
        }
      }
      const request = requestMetaOf(req, requestId, options.services.conditionSettings);
      const auth = await authenticate(
        secret,
        prefetch.plan(source?.query, variables),
        request,
      ).catch((error: unknown) => {
        // Refused before execution: answer with the error's own HTTP status (401), not 500.
        if (isDomainError(error)) error.extensions.http = { status: error.httpStatus };
        if (isDatabaseUnavailable(error)) {
          const reference = Math.random().toString(36).slice(2, 10);
          options.log(`Database unavailable ${reference}`, error);
          throw databaseUnavailable(reference);
        }
        throw error;
      });
      if (auth.caller.keyId !== null) options.keyUsage.record(auth.caller.keyId);
      return createContext(options, auth, request, (again) => authenticate(secret, again, request));
    },
  );

  const readBody = jsonBodyReader(options.maxBodyBytes);
  const serveGraphql = async (req: IncomingMessage, res: ServerResponse, search: string) => {
    const read = await readBody(req, res);
    if ('refusal' in read) {
      sendError(res, read.refusal.status, 'BAD_REQUEST', read.refusal.message);
      return;
    }
    await graphql(req, res, read.body, search);
  };

  const authzen = authzenRoutes({
    database: options.database,
    services: options.services,
    authenticate,
    keyUsage: options.keyUsage,
    readBody,
    log: options.log,
  });

  const route = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { path, search } = splitUrl(req.url);
    if (path === '/graphql' || path === '/graphql/') return serveGraphql(req, res, search);
    if (isAuthzenPath(path)) return authzen.serve(req, res, path);
    if (
      (path === '/healthz' || path === '/healthz/') &&
      (req.method === 'GET' || req.method === 'HEAD')
    ) {
      return health(res);
    }
    sendError(
      res,
      404,
      'NOT_FOUND',
      'Not found: Keyholder serves /graphql, /access/v1 and /healthz.',
    );
    return Promise.resolve();
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error: unknown) => {
      options.log('Unhandled HTTP error', error);
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error.');
    });
  });

  const ws = startWsServer({
    server,
    schema: options.schema,
    database: options.database,
    services: options.services,
    authenticate,
    validationRules: armor.validationRules,
    formatError,
    log: options.log,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    async stop() {
      await ws.close();
      await apollo.stop();
    },
  };
}

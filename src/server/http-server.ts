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
import {
  type DomainError,
  databaseUnavailable,
  isDatabaseUnavailable,
  isDomainError,
  unauthenticated,
} from 'keyholder-directive/errors.js';
import type { Logger } from 'pino';
import type { KeyholderContext } from '../context/keyholder-context.js';
import type { Services } from '../context/services.js';
import type { Database } from '../db/client.js';
import type { AccessLogStatus } from '../modules/audit/access-log.js';
import type { ExpirySweeper } from '../modules/grants/expiry-sweeper.js';
import {
  AuthenticationCache,
  DEFAULT_AUTHENTICATION_CACHE_SIZE,
} from '../modules/keys/authentication-cache.js';
import { authenticateChallenge } from '../modules/keys/dpop-proof.js';
import { FailedAuthentications } from '../modules/keys/failed-authentications.js';
import type { KeyUsageRecorder } from '../modules/keys/key-usage-recorder.js';
import { provenBy } from '../modules/keys/proof-of-possession.js';
import {
  type AuthenticateBearer,
  bearerAuthenticator,
} from '../modules/tokens/bearer-authenticator.js';
import type { OidcIssuer } from '../modules/tokens/oidc-issuers.js';
import type { WebhookDispatchStats } from '../modules/webhooks/webhook-dispatcher.js';
import { requestIdOf, traceparentOf } from '../telemetry/request-id.js';
import { endRequestSpan, startRequestSpan, traced } from '../telemetry/tracing.js';
import { useAccessLog } from './access-log-plugin.js';
import { apolloRequestHandler } from './apollo-request-handler.js';
import { AUDIT_KEYS_PATH, serveAuditKeys } from './audit-keys-route.js';
import { authzenRoutes, isAuthzenPath } from './authzen/authzen-routes.js';
import { type ConsoleRoutesOptions, consoleRoutes } from './console-routes.js';
import {
  createContext,
  credentialOf,
  type PresentedCredential,
  possessionOf,
  requestMetaOf,
} from './context.js';
import type { DecisionCounts } from './decision-tally.js';
import { createFormatError } from './format-error.js';
import { useGrantUsage } from './grant-usage-plugin.js';
import { type HealthRoute, healthRoutes } from './health-routes.js';
import { useNoHttpSubscriptions } from './http-subscriptions-plugin.js';
import { listCostPlugin } from './list-cost.js';
import { createMetrics, type KeyholderMetrics, routeOf } from './metrics.js';
import { PrefetchPlanner } from './prefetch.js';
import { jsonBodyReader } from './read-json-body.js';
import { useRequestAccessHints } from './request-access-plugin.js';
import { useRevision } from './revision-plugin.js';
import { isScimPath, scimRoutes } from './scim/scim-routes.js';
import { sendError } from './send-json.js';
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
   * Authentications kept for reuse while no newer revision has been committed (see
   * `AuthenticationCache`), shared by HTTP and WebSocket; 0 keeps none. @default 1000
   */
  readonly authenticationCacheSize?: number;
  readonly log: (message: string, error?: unknown) => void;
  /** Where the access line of every HTTP request is written (its fields: see `handler`). */
  readonly logger: Logger;
  /** The webhook dispatcher's counters, for `/metrics`; absent shows none. */
  readonly webhooks?: () => WebhookDispatchStats;
  /**
   * `METRICS_PORT`: a second listener on the same host serving `/metrics` and detailed `/healthz`
   * without credentials, for scrapers on a private network; `null` opens none. @default null
   */
  readonly metricsPort?: number | null;
  /** The console at `/console` and GraphiQL (`consoleRoutes`); `null` serves neither. @default null */
  readonly console?: ConsoleRoutesOptions | null;
}

export interface RunningHttpServer {
  readonly server: Server;
  readonly url: string;
  /** `http://<host>:<METRICS_PORT>` of the private listener, or `null` without one. */
  readonly metricsUrl: string | null;
  stop(): Promise<void>;
}

/** The `http` extension of a refusal before execution: its status, and a 401's challenge. */
function httpOf(error: DomainError): { status: number; headers?: Map<string, string> } {
  const status = error.httpStatus;
  if (status !== 401) return { status };
  return { status, headers: new Map([['www-authenticate', authenticateChallenge(error)]]) };
}

function presentedCredential(header: string | undefined): PresentedCredential {
  let refusal: DomainError | null = null;
  if (header === undefined || header === '') {
    refusal = unauthenticated('Authentication required: send "Authorization: Bearer <api key>".');
  }
  const credential = refusal === null ? credentialOf(header) : null;
  if (refusal === null && credential === null) {
    refusal = unauthenticated(
      'The Authorization header must be "Bearer <api key>". A DPoP-bound key is sent as "DPoP <api key>" with a DPoP proof.',
    );
  }
  if (refusal !== null) {
    refusal.extensions.http = httpOf(refusal);
    throw refusal;
  }
  return credential as PresentedCredential;
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
 * - `/scim/v2/…`: SCIM 2.0 provisioning (`scimRoutes`);
 * - `GET /livez`, `/readyz`, `/healthz`, `/metrics`: see `HealthRoutes`;
 * - any other path or method: a JSON 404. A trailing slash is allowed on every path.
 * Every request is counted in `/metrics` by route and status, answers its id in `x-request-id`
 * (the caller's, when safe: `requestIdOf`) and gets one access line in the log; with tracing on it
 * is a server span, child of the caller's `traceparent`.
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
      useNoHttpSubscriptions<KeyholderContext>(),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // No @cacheControl hints: every answer is per caller, so `no-store` is set below instead of
      // paying the cache-control plugin's per-field hook on every request.
      ApolloServerPluginCacheControlDisabled(),
      // As a federation subgraph: no per-field timing traces (ftv1) for whoever asks for them.
      ApolloServerPluginInlineTraceDisabled(),
      // No Apollo Sandbox (it loads from a CDN): browsers get the console's GraphiQL instead.
      ApolloServerPluginLandingPageDisabled(),
      useRevision(),
      useGrantUsage(options.services.grantUsage),
      useAccessLog(options.services.accessLog, options.services.accessLogMode, options.log),
      useRequestAccessHints(options.database, options.log),
    ],
  });
  await apollo.start();

  const prefetch = new PrefetchPlanner();
  const authenticationCache = new AuthenticationCache(
    options.database,
    options.authenticationCacheSize ?? DEFAULT_AUTHENTICATION_CACHE_SIZE,
  );
  const authenticateBearer = bearerAuthenticator(
    options.database,
    options.oidcIssuers ?? [],
    options.log,
    authenticationCache,
  );
  const failures = new FailedAuthentications(options.services.accessLog, options.log);
  const authenticate: AuthenticateBearer = (credential, prefetch, request, possession) =>
    traced('keyholder.authenticate', {}, () =>
      authenticateBearer(credential, prefetch, request, possession).catch((error: unknown) => {
        failures.note(error, credential, request);
        throw error;
      }),
    );
  const decisionCounts: DecisionCounts = { allowed: 0, denied: 0 };
  const contextDeps = {
    database: options.database,
    services: options.services,
    decisionCounts,
  };
  const sweeper = options.expirySweeper;
  const metrics = createMetrics({
    decisions: decisionCounts,
    authenticationCache: () => authenticationCache.stats(),
    authenticationFailures: () => failures.counts,
    accessLog: () => options.services.accessLog.status(),
    statements: () => options.database.statements.count,
    expirySweeper: sweeper ? () => sweeper.status() : undefined,
    webhooks: options.webhooks,
  });
  const routes = healthRoutes({
    database: options.database,
    metrics,
    detail: () => ({
      accessLog: accessLogHealth(options.services),
      expirySweeper: options.expirySweeper?.status() ?? null,
      authenticationCache: authenticationCache.stats(),
    }),
    grantsOf: async (req) => {
      const credential = presentedCredential(req.headers.authorization);
      const request = requestMetaOf(req, requestIdOf(req), options.services.conditionSettings);
      const auth = await authenticate(
        credential.secret,
        NO_PREFETCH,
        request,
        possessionOf(req, credential),
      );
      if (auth.caller.keyId !== null) options.keyUsage.record(auth.caller.keyId);
      return auth.caller.grants;
    },
  });

  const graphql = apolloRequestHandler(
    apollo,
    async ({ req, res, body, search }): Promise<KeyholderContext> => {
      const requestId = requestIdOf(req);
      res.setHeader('cache-control', 'no-store');
      const credential = presentedCredential(req.headers.authorization);
      const { secret } = credential;
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
        possessionOf(req, credential),
      ).catch((error: unknown) => {
        // Refused before execution: answer with the error's own HTTP status (401), not 500.
        if (isDomainError(error)) error.extensions.http = httpOf(error);
        if (isDatabaseUnavailable(error)) {
          const reference = Math.random().toString(36).slice(2, 10);
          options.log(`Database unavailable ${reference}`, error);
          throw databaseUnavailable(reference);
        }
        throw error;
      });
      if (auth.caller.keyId !== null) options.keyUsage.record(auth.caller.keyId);
      // A re-read within this request rests on the proof already verified (a proof is single-use).
      return createContext(contextDeps, auth, request, (again) =>
        authenticate(secret, again, request, provenBy(auth)),
      );
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
    decisionCounts,
    authenticate,
    keyUsage: options.keyUsage,
    readBody,
    log: options.log,
  });

  const scim = scimRoutes({
    database: options.database,
    services: options.services,
    decisionCounts,
    authenticate,
    keyUsage: options.keyUsage,
    readBody: jsonBodyReader(options.maxBodyBytes, ['application/json', 'application/scim+json']),
    log: options.log,
  });

  const web = options.console ? consoleRoutes(options.console) : null;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { path, search } = splitUrl(req.url);
    if (web !== null && (await web.serve(req, res, path, search))) return;
    if (path === '/graphql' || path === '/graphql/') return serveGraphql(req, res, search);
    if (isAuthzenPath(path)) return authzen.serve(req, res, path);
    if (isScimPath(path)) return scim.serve(req, res, path, search);
    if (path === AUDIT_KEYS_PATH) return serveAuditKeys(req, res);
    return serveOperational(routes.public, path, req, res);
  };
  server.on('request', handler(route, metrics, options.log, options.logger));

  let metricsServer: Server | null = null;
  if (options.metricsPort !== undefined && options.metricsPort !== null) {
    metricsServer = createServer();
    metricsServer.on(
      'request',
      handler(
        (req, res) => serveOperational(routes.private, splitUrl(req.url).path, req, res),
        metrics,
        options.log,
        options.logger,
      ),
    );
  }

  const ws = startWsServer({
    server,
    schema: options.schema,
    database: options.database,
    services: options.services,
    authenticate,
    validationRules: armor.validationRules,
    formatError,
    log: options.log,
    decisionCounts,
  });

  const url = await listenOn(server, listen.port, listen.host);
  let metricsUrl: string | null = null;
  if (metricsServer !== null) {
    try {
      metricsUrl = await listenOn(metricsServer, options.metricsPort ?? 0, listen.host);
    } catch (error) {
      await ws.close();
      await apollo.stop();
      throw error;
    }
  }
  return {
    server,
    url,
    metricsUrl,
    async stop() {
      const closed = metricsServer === null ? null : closeServer(metricsServer);
      await ws.close();
      await apollo.stop();
      await closed;
    },
  };
}

const NO_PREFETCH = { identityIds: [], scopes: [] } as const;

/** Serves `path` from `routes` (GET or HEAD, a trailing slash allowed), else a JSON 404. */
function serveOperational(
  routes: ReadonlyMap<string, HealthRoute>,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const served = routes.get(trimmed);
  if (served !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
    return served(req, res);
  }
  sendError(res, 404, 'NOT_FOUND', `Not found: Keyholder serves ${NOT_FOUND_PATHS}.`);
  return Promise.resolve();
}

const NOT_FOUND_PATHS =
  '/graphql, /access/v1, /scim/v2, /healthz, /livez, /readyz, /metrics and /.well-known/keyholder-audit-keys';

/** Probes and scrapes: their access lines are written at `debug`, not to drown the others. */
const OPERATIONAL_ROUTES: ReadonlySet<string> = new Set([
  '/livez',
  '/readyz',
  '/healthz',
  '/metrics',
]);

/**
 * A request listener that gives the request its id (`x-request-id`), times `route` into `metrics`,
 * writes its access line (`requestId`, `method`, `route` (the path's bounded name, never the query
 * string), `status`, `durationMs`, and the caller's `traceparent` and the span's `traceId` when
 * present) and answers a JSON 500 if it throws. With tracing on, `route` runs in a server span.
 */
function handler(
  route: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  metrics: KeyholderMetrics,
  log: (message: string, error?: unknown) => void,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const named = routeOf(splitUrl(req.url).path);
    const method = req.method ?? 'GET';
    const traceparent = traceparentOf(req);
    const traced = startRequestSpan(method, named, requestId, req.headers);
    res.once('finish', () => {
      const ms = performance.now() - started;
      metrics.observeRequest(named, res.statusCode, ms / 1000);
      if (traced !== null) endRequestSpan(traced.span, res.statusCode);
      logger[OPERATIONAL_ROUTES.has(named) ? 'debug' : 'info'](
        {
          requestId,
          method,
          route: named,
          status: res.statusCode,
          durationMs: Math.round(ms * 100) / 100,
          ...(traceparent === undefined ? {} : { traceparent }),
          ...(traced === null ? {} : { traceId: traced.span.spanContext().traceId }),
        },
        'request',
      );
    });
    const serve = () =>
      route(req, res).catch((error: unknown) => {
        log('Unhandled HTTP error', error);
        if (res.headersSent) res.destroy();
        else sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error.');
      });
    if (traced === null) serve();
    else traced.run(serve);
  };
}

/** Listens on `port` of `host`: the URL it serves. */
async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

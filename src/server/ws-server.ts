import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type ExecutionArgs,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { ErrorCode, isDomainError } from 'keyholder-directive/errors.js';
import { WebSocketServer } from 'ws';
import type { KeyholderContext } from '../context/keyholder-context.js';
import type { Services } from '../context/services.js';
import type { Database } from '../db/client.js';
import { type AccessedOperation, accessEventOf } from '../modules/audit/access-event.js';
import { accessEventDue } from '../modules/audit/access-log-mode.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import { type Possession, provenBy } from '../modules/keys/proof-of-possession.js';
import type { AuthenticateBearer } from '../modules/tokens/bearer-authenticator.js';
import { ACCESS_LOG_UNAVAILABLE } from './access-log-plugin.js';
import { createContext, credentialOf, possessionOf, requestMetaOf } from './context.js';
import type { DecisionCounts } from './decision-tally.js';
import { publicInternalError } from './format-error.js';
import { listCostProblem } from './list-cost.js';

export interface WsServerOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly database: Database;
  readonly services: Services;
  /** Authenticates `connection_init`'s bearer credential (API key or token) and every operation. */
  readonly authenticate: AuthenticateBearer;
  /** The same extra validation rules HTTP uses (depth, aliases, cost, directives). */
  readonly validationRules: readonly ValidationRule[];
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  readonly log: (message: string, error?: unknown) => void;
  /** Where the directive's decisions are counted for `/metrics`. */
  readonly decisionCounts?: DecisionCounts;
}

/** Largest WebSocket message accepted, in bytes. */
export const MAX_WS_MESSAGE_BYTES = 64 * 1024;
/** Operations one socket may run at once. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 20;
const MAX_TOKENS = 2000;
const HEARTBEAT_MS = 30_000;

/** An operation in flight on a socket, for its access events. */
interface RunningOperation {
  readonly context: KeyholderContext;
  readonly started: number;
  readonly operation: AccessedOperation;
}

interface Extra extends Record<PropertyKey, unknown> {
  secret?: string;
  /** What `connection_init` proved of the credential's DPoP binding. */
  possession?: Possession;
  operations?: Map<string, RunningOperation>;
}

const clientError = (code: string, message: string) =>
  new GraphQLError(message, { extensions: { code } });

/**
 * graphql-ws on the HTTP server's `/graphql`, with the protections Apollo gives HTTP:
 * - `connection_init` must carry `{ authorization: "Bearer <key or token>" }` for a valid API key
 *   or identity-provider token, else 4403; a DPoP-bound one `{ authorization: "DPoP <key or
 *   token>", dpop: "<proof>" }`, the proof naming `htm` `GET` and as `htu` the socket's URL with
 *   `http(s)` for `ws(s)` (checked once, here; the socket's operations rest on it);
 * - a socket that sends no `connection_init` within 3 s is closed (4408), a silent one is dropped at
 *   the next heartbeat, messages over 64 KiB close it (1009);
 * - every operation is re-authenticated, parsed with the token limit, validated with the same
 *   rules, capped at 20 per socket, and its errors are masked like HTTP's.
 */
export function startWsServer(options: WsServerOptions): { close(): Promise<void> } {
  const wss = new WebSocketServer({
    server: options.server,
    path: '/graphql',
    maxPayload: MAX_WS_MESSAGE_BYTES,
  });
  const alive = new WeakSet<object>();
  wss.on('connection', (socket) => {
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
  });
  const heartbeat = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => options.formatError(e.toJSON(), e));
  const rules = [...specifiedRules, ...options.validationRules];
  const accessLog = options.services.accessLog;
  const grantUsage = options.services.grantUsage;
  /** Counts one use of each grant that allowed something since the last count (memory only). */
  const recordUses = (running: RunningOperation | undefined): void => {
    const used = running?.context.uses.take();
    if (used !== undefined && used.length > 0) grantUsage.record(used);
  };
  /**
   * Queues the access event of what `running` decided since its last one; false if it could not.
   * `deniedOnly` (a stream ended by a denial) records the denial alone and waits for room however
   * long it takes, since there is no response left to withhold.
   */
  const recordAccess = async (running: RunningOperation, deniedOnly = false): Promise<boolean> => {
    const record = running.context.access;
    const due = accessEventDue(options.services.accessLogMode, record);
    if (record === undefined || !due.write) return true;
    const event = accessEventOf(
      running.context.caller,
      record,
      running.operation,
      performance.now() - running.started,
      deniedOnly,
      due.sensitive,
    );
    try {
      await accessLog.append(event, deniedOnly ? Number.POSITIVE_INFINITY : undefined);
      return true;
    } catch (error) {
      options.log('Could not queue the access event of a WebSocket operation', error);
      return false;
    }
  };

  const disposable = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema: options.schema,
      connectionInitWaitTimeout: 3000,
      onConnect: async (ctx) => {
        const credential = credentialOf(ctx.connectionParams?.authorization);
        if (credential === null) return false;
        try {
          const auth = await options.authenticate(
            credential.secret,
            undefined,
            requestMetaOf(ctx.extra.request, randomUUID(), options.services.conditionSettings),
            possessionOf(ctx.extra.request, credential, ctx.connectionParams?.dpop),
          );
          // Possession is proven once, here: the socket's operations rest on it.
          ctx.extra.possession = provenBy(auth);
        } catch {
          return false;
        }
        ctx.extra.secret = credential.secret;
        return true;
      },
      onSubscribe: async (ctx, id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
        const started = performance.now();
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [
            clientError(
              'BAD_REQUEST',
              `A socket may run at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} operations at once.`,
            ),
          ];
        }
        const secret = ctx.extra.secret as string;
        const possession = ctx.extra.possession ?? { kind: 'bearer' };
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query, { maxTokens: MAX_TOKENS });
        } catch (error) {
          return [clientError('GRAPHQL_PARSE_FAILED', (error as Error).message)];
        }
        const invalid = validate(options.schema, document, rules);
        if (invalid.length > 0) {
          return invalid.map((e) =>
            clientError('GRAPHQL_VALIDATION_FAILED', e.message.replace(/ ?Did you mean .+\?$/, '')),
          );
        }
        const tooCostly = listCostProblem(
          options.schema,
          document,
          payload.variables ?? undefined,
          payload.operationName,
        );
        if (tooCostly !== null) return [clientError('GRAPHQL_VALIDATION_FAILED', tooCostly)];
        let contextValue: KeyholderContext;
        try {
          const request = requestMetaOf(
            ctx.extra.request,
            randomUUID(),
            options.services.conditionSettings,
          );
          const auth = await options.authenticate(secret, undefined, request, possession);
          // The operation starts with the grants just loaded; every later event re-authenticates.
          let fresh: readonly ActiveGrant[] | null = auth.caller.grants;
          const reloadGrants = async (): Promise<readonly ActiveGrant[]> => {
            if (fresh !== null) {
              const grants = fresh;
              fresh = null;
              return grants;
            }
            try {
              const again = await options.authenticate(secret, undefined, undefined, possession);
              if (contextValue !== undefined) {
                contextValue.conditions.scopeConditions = again.scopeConditions;
              }
              return again.caller.grants;
            } catch (error) {
              // A revoked or expired key or token, or a disabled identity, holds nothing from now on.
              if (isDomainError(error) && error.code === ErrorCode.UNAUTHENTICATED) return [];
              throw error;
            }
          };
          contextValue = createContext(
            options,
            auth,
            request,
            (again) => options.authenticate(secret, again, request, possession),
            reloadGrants,
          );
        } catch (error) {
          if (isDomainError(error)) return [error];
          throw error;
        }
        const operationAst = getOperationAST(document, payload.operationName ?? null);
        ctx.extra.operations ??= new Map();
        ctx.extra.operations.set(id, {
          context: contextValue,
          started,
          operation: {
            name: payload.operationName ?? operationAst?.name?.value ?? null,
            type: operationAst?.operation ?? null,
            documentHash: createHash('sha256').update(payload.query).digest('hex'),
            transport: 'ws',
          },
        });
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue,
        };
      },
      // One access event for the subscribe decision; later events are re-checked, and a stream
      // ended by a denial gets a second event (onComplete).
      // Uses count per operation: a query or mutation once, a subscription once when it subscribes
      // and once per event delivered (onNext).
      onOperation: async (ctx, id, _payload, _args, result) => {
        const running = ctx.extra.operations?.get(id);
        recordUses(running);
        if (running === undefined || (await recordAccess(running))) return undefined;
        if (isAsyncIterable(result)) await result.return?.(undefined);
        return {
          errors: [
            publicInternalError(clientError('INTERNAL_SERVER_ERROR', ACCESS_LOG_UNAVAILABLE)),
          ],
        };
      },
      onComplete: async (ctx, id) => {
        const running = ctx.extra.operations?.get(id);
        ctx.extra.operations?.delete(id);
        if (running?.context.access?.anyDenied) await recordAccess(running, true);
      },
      onNext: (ctx, id, _payload, _args, result) => {
        recordUses(ctx.extra.operations?.get(id));
        if (!result.errors) return undefined;
        return {
          data: (result.data ?? null) as Record<string, unknown> | null,
          errors: format(result.errors),
        };
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
    },
    wss,
  );

  return {
    async close() {
      clearInterval(heartbeat);
      for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncGenerator<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { isDatabaseUnavailable, isDomainError } from 'keyholder-directive/errors.js';
import type { Database } from '../db/client.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import type { KeyholderMetrics } from './metrics.js';
import { sendError, sendJson } from './send-json.js';

/** The built-in scope that opens detailed health and metrics. */
export const SYSTEM_READ = 'system:read';

/** How long `/readyz` and `/healthz` wait for the database to answer a ping. */
const PING_TIMEOUT_MS = 2000;

export type HealthRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface HealthRoutesOptions {
  readonly database: Database;
  readonly metrics: KeyholderMetrics;
  /** What detailed `/healthz` adds to `{ status, database }`, read at each request. */
  readonly detail: () => Record<string, unknown>;
  /**
   * The live grants of the identity behind the request's `Authorization: Bearer` credential.
   * Throws `UNAUTHENTICATED` for a missing, malformed, unknown, expired or revoked credential.
   */
  readonly grantsOf: (req: IncomingMessage) => Promise<readonly ActiveGrant[]>;
}

/** The operational routes by path, on the public listener and on the private `METRICS_PORT` one. */
export interface HealthRoutes {
  /**
   * - `/livez`: 200 while the process serves; never touches the database.
   * - `/readyz`: 200 when the database answers a ping within 2 s, else 503.
   * - `/healthz`: the same 200/503 with `{ status, database }`; with a bearer credential whose
   *   identity holds `system:read`, also the access log, expiry sweeper and authentication cache
   *   (an invalid credential gets 401).
   * - `/metrics`: Prometheus text for a credential holding `system:read`; 401 without one, 403
   *   without the scope.
   */
  readonly public: ReadonlyMap<string, HealthRoute>;
  /** The same paths for a private network: detailed `/healthz` and `/metrics` without credentials. */
  readonly private: ReadonlyMap<string, HealthRoute>;
}

/**
 * Whether `grants` hold `system:read` on every instance. A grant with a condition does not count:
 * conditions read a GraphQL request's context, which these routes do not build (deny wins).
 */
export function holdsSystemRead(grants: readonly ActiveGrant[], now: number): boolean {
  const unconditional = grants.filter((g) => g.condition === null && !g.ownerCondition);
  return new GrantSet(unconditional).covering(SYSTEM_READ, null, now) !== null;
}

async function databaseAnswers(database: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      database.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

type Access = 'allowed' | 'anonymous' | 'unavailable';

export function healthRoutes(options: HealthRoutesOptions): HealthRoutes {
  const engine = options.database.engine;

  /** Answers 401 (and returns `null`) for a credential that does not authenticate. */
  const access = async (req: IncomingMessage, res: ServerResponse): Promise<Access | null> => {
    try {
      return holdsSystemRead(await options.grantsOf(req), Date.now()) ? 'allowed' : 'anonymous';
    } catch (error) {
      if (isDatabaseUnavailable(error)) return 'unavailable';
      if (!isDomainError(error)) throw error;
      sendError(res, error.httpStatus, error.code, error.message);
      return null;
    }
  };

  const livez: HealthRoute = async (_req, res) => sendJson(res, 200, { status: 'ok' });
  const readyz: HealthRoute = async (_req, res) => {
    if (await databaseAnswers(options.database)) sendJson(res, 200, { status: 'ok' });
    else sendJson(res, 503, { status: 'unavailable' });
  };
  const health = async (res: ServerResponse, detailed: boolean) => {
    const detail = detailed ? options.detail() : {};
    const ok = await databaseAnswers(options.database);
    sendJson(res, ok ? 200 : 503, {
      status: ok ? 'ok' : 'unavailable',
      database: engine,
      ...detail,
    });
  };
  const metrics = async (res: ServerResponse) => {
    const body = await options.metrics.registry.metrics();
    res.statusCode = 200;
    res.setHeader('content-type', options.metrics.registry.contentType);
    res.setHeader('cache-control', 'no-store');
    res.end(body);
  };

  const publicHealth: HealthRoute = async (req, res) => {
    if (req.headers.authorization === undefined) return health(res, false);
    const allowed = await access(req, res);
    if (allowed !== null) await health(res, allowed === 'allowed');
  };
  const publicMetrics: HealthRoute = async (req, res) => {
    const allowed = await access(req, res);
    if (allowed === null) return;
    if (allowed === 'unavailable') {
      sendError(
        res,
        503,
        'SERVICE_UNAVAILABLE',
        'The database did not answer, so the credential could not be checked.',
      );
    } else if (allowed === 'anonymous') {
      sendError(res, 403, 'FORBIDDEN', `Reading /metrics requires the scope "${SYSTEM_READ}".`, {
        required: { allOf: [SYSTEM_READ] },
      });
    } else {
      await metrics(res);
    }
  };

  return {
    public: new Map([
      ['/livez', livez],
      ['/readyz', readyz],
      ['/healthz', publicHealth],
      ['/metrics', publicMetrics],
    ]),
    private: new Map([
      ['/livez', livez],
      ['/readyz', readyz],
      ['/healthz', (_req, res) => health(res, true)],
      ['/metrics', (_req, res) => metrics(res)],
    ]),
  };
}

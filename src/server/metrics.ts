import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AccessLogStatus } from '../modules/audit/access-log.js';
import type { ExpirySweeperStatus } from '../modules/grants/expiry-sweeper.js';
import type { AuthenticationCacheStats } from '../modules/keys/authentication-cache.js';
import type { WebhookDispatchStats } from '../modules/webhooks/webhook-dispatcher.js';
import type { DecisionCounts } from './decision-tally.js';

/** The routes `keyholder_http_*` metrics are labelled with; every other path counts as `other`. */
const ROUTES = [
  '/graphql',
  '/healthz',
  '/livez',
  '/readyz',
  '/metrics',
  '/access/v1/evaluation',
  '/access/v1/evaluations',
  '/access/v1/search/subject',
  '/access/v1/search/resource',
  '/access/v1/search/action',
  '/.well-known/authzen-configuration',
  '/.well-known/keyholder-audit-keys',
  '/scim/v2',
  '/console',
] as const;
export type MetricsRoute = (typeof ROUTES)[number] | 'other';

/** The route label of a request path (a trailing slash allowed): a fixed set, never the raw path. */
export function routeOf(path: string): MetricsRoute {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  // SCIM paths carry resource ids: one label for all of them.
  if (trimmed === '/scim/v2' || trimmed.startsWith('/scim/v2/')) return '/scim/v2';
  // The console's pages and assets: one label.
  if (trimmed === '/console' || trimmed.startsWith('/console/')) return '/console';
  return (ROUTES as readonly string[]).includes(trimmed) ? (trimmed as MetricsRoute) : 'other';
}

/**
 * Where the metrics read the server's state at each scrape: in-memory counters and statuses only,
 * so a scrape never runs a statement. Absent sources give no metric.
 */
export interface MetricSources {
  readonly decisions: DecisionCounts;
  readonly authenticationCache: () => AuthenticationCacheStats;
  /** Refused credentials by reason (`FailedAuthentications.counts`). */
  readonly authenticationFailures?: () => ReadonlyMap<string, number>;
  readonly accessLog: () => AccessLogStatus;
  /** Statements this process has sent to its database (`Database.statements`). */
  readonly statements?: (() => number) | undefined;
  readonly expirySweeper?: (() => ExpirySweeperStatus) | undefined;
  readonly webhooks?: (() => WebhookDispatchStats) | undefined;
}

/** One server's metrics. */
export interface KeyholderMetrics {
  /** Its own registry (never prom-client's global one: tests run several servers in one process). */
  readonly registry: Registry;
  /** Counts one HTTP request that finished with `status` after `seconds`. */
  observeRequest(route: MetricsRoute, status: number, seconds: number): void;
}

/** A counter whose value is read from `read()` at each scrape. */
function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * How far behind schedule the expiry sweeper is, in seconds: while its looks fail, since they
 * started failing; otherwise how long its next look is overdue (0 when it is not).
 */
export function expirySweeperLagSeconds(status: ExpirySweeperStatus, now: number): number {
  const failing = status.failingSince === null ? 0 : now - status.failingSince.getTime();
  const overdue = status.nextLookAt === null ? 0 : now - status.nextLookAt.getTime();
  return Math.max(0, failing, overdue) / 1000;
}

/**
 * The metrics `/metrics` serves, in a registry of their own: Node's process metrics (prom-client's
 * defaults, unprefixed as dashboards expect them) and Keyholder's. Labels are bounded: route, status and outcome,
 * never an identity, key or resource.
 */
export function createMetrics(sources: MetricSources): KeyholderMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'keyholder_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'keyholder_http_request_duration_seconds',
    help: 'Time from an HTTP request arriving to its response finishing, by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Counter({
    name: 'keyholder_decisions_total',
    help: 'Decisions of @requires, by outcome (a scope-only requirement once per field per operation, a resource requirement once per value).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'allowed' }, sources.decisions.allowed);
      this.inc({ outcome: 'denied' }, sources.decisions.denied);
    },
  });
  counterOf(
    registry,
    'keyholder_authentication_cache_hits_total',
    'Authentications answered from the authentication cache.',
    () => sources.authenticationCache().hits,
  );
  counterOf(
    registry,
    'keyholder_authentication_cache_misses_total',
    'Authentications that ran the authentication statement.',
    () => sources.authenticationCache().misses,
  );
  counterOf(
    registry,
    'keyholder_authentication_cache_shared_total',
    'Authentications that joined a statement already in flight for the same credential.',
    () => sources.authenticationCache().shared,
  );
  counterOf(
    registry,
    'keyholder_authentication_cache_carried_total',
    'Cache hits from an entry no change since it was read had touched (change journal).',
    () => sources.authenticationCache().carried,
  );
  const statements = sources.statements;
  if (statements !== undefined) {
    counterOf(
      registry,
      'keyholder_database_statements_total',
      'Statements sent to the database by this process (a transaction counts its statements).',
      statements,
    );
  }
  const failures = sources.authenticationFailures;
  if (failures !== undefined) {
    new Counter({
      name: 'keyholder_authentication_failures_total',
      help: 'Refused credentials, by reason (UNKNOWN_KEY, REVOKED_KEY, EXPIRED_KEY, DISABLED_IDENTITY, INVALID_TOKEN, UNKNOWN_SUBJECT).',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, count] of failures()) this.inc({ reason }, count);
      },
    });
  }
  gaugeOf(
    registry,
    'keyholder_access_log_pending',
    'Access events queued or waiting for room, not yet written.',
    () => sources.accessLog().pending,
  );
  gaugeOf(
    registry,
    'keyholder_access_log_failing',
    '1 while writing access events fails, else 0.',
    () => (sources.accessLog().failingSince === null ? 0 : 1),
  );
  const sweeper = sources.expirySweeper;
  if (sweeper !== undefined) {
    gaugeOf(
      registry,
      'keyholder_expiry_sweeper_lag_seconds',
      'How far behind schedule the expiry sweeper is: since its looks started failing, or how long its next look is overdue.',
      () => expirySweeperLagSeconds(sweeper(), Date.now()),
    );
    counterOf(
      registry,
      'keyholder_expiry_sweeper_recorded_total',
      'grant.expired events this process has written.',
      () => sweeper().recorded,
    );
  }
  const webhooks = sources.webhooks;
  if (webhooks !== undefined) {
    gaugeOf(
      registry,
      'keyholder_webhook_deliveries_in_flight',
      'Webhook deliveries being sent by this process right now.',
      () => webhooks().inFlight,
    );
    counterOf(
      registry,
      'keyholder_webhook_deliveries_total',
      'Webhook deliveries a receiver accepted (2xx).',
      () => webhooks().delivered,
    );
    counterOf(
      registry,
      'keyholder_webhook_attempt_failures_total',
      'Webhook delivery attempts that failed (other status, refused connection, timeout).',
      () => webhooks().failedAttempts,
    );
    counterOf(
      registry,
      'keyholder_webhook_deliveries_failed_total',
      'Webhook deliveries given up after their last attempt failed.',
      () => webhooks().failed,
    );
  }
  return {
    registry,
    observeRequest(route, status, seconds) {
      requests.inc({ route, status: String(status) });
      durations.observe({ route }, seconds);
    },
  };
}

import { isCidrRange } from 'keyholder-directive/conditions/cidr.js';
import {
  type ConditionSettings,
  DEFAULT_CONDITION_SETTINGS,
} from 'keyholder-directive/conditions/condition-settings.js';
import type { AccessReviewCloserOptions } from './modules/access-reviews/access-review-closer.js';
import type { AuditKeySettings } from './modules/audit/audit-keys.js';
import type { ExpirySweeperOptions } from './modules/grants/expiry-sweeper.js';
import { DEFAULT_AUTHENTICATION_CACHE_SIZE } from './modules/keys/authentication-cache.js';
import { DEFAULT_LEASE_MS } from './modules/revision/revision-feed.js';
import {
  type OidcIssuer,
  OidcIssuersError,
  parseOidcIssuers,
} from './modules/tokens/oidc-issuers.js';
import { MAX_UNUSED_SECONDS } from './modules/usage/unused-window.js';
import type { WebhookDispatchOptions } from './modules/webhooks/webhook-dispatcher.js';
import { LOG_LEVELS, type LogLevel } from './telemetry/logger.js';

/** Process configuration, read once from the environment at start. */
export interface Config {
  /** `PORT`. @default 4000 */
  readonly port: number;
  /** `HOST`. @default 127.0.0.1 */
  readonly host: string;
  /**
   * `METRICS_PORT`: a second listener on `HOST` that serves `/metrics` and detailed `/healthz`
   * (and `/livez`, `/readyz`) without credentials, for scrapers on a private network. Unset opens
   * none: `/metrics` is then served on `PORT` to callers holding `system:read`. @default unset
   */
  readonly metricsPort?: number | null;
  /** `DATABASE_URL`: a postgres:// URL selects PostgreSQL; absent selects embedded PGlite. */
  readonly databaseUrl: string | undefined;
  /** `DATA_DIR`: PGlite's directory. @default ./.keyholder */
  readonly dataDir: string;
  /** `BOOTSTRAP_ADMIN_KEY`: the root admin's key on first start (at least 32 characters). */
  readonly bootstrapAdminKey: string | undefined;
  /** `NODE_ENV === 'production'`: GraphiQL off unless `GRAPHIQL=on`, masked errors. */
  readonly production: boolean;
  /** `CONSOLE=off` serves no console (nothing under `/console`, no redirect from `/`). @default on */
  readonly console?: boolean;
  /**
   * `GRAPHIQL`: GraphiQL at `/console/graphiql` and `GET /graphql` for browsers (needs the console).
   * @default on, off when `NODE_ENV=production`
   */
  readonly graphiql?: boolean;
  /**
   * `DATABASE_TIMEOUT_MS`: the longest one PostgreSQL statement (lock waits included) or an idle
   * transaction may take before PostgreSQL ends it; the request then answers `SERVICE_UNAVAILABLE`
   * (503) instead of hanging. @default 15000
   */
  readonly databaseTimeoutMs?: number;
  /** `MAX_BODY_BYTES`: largest accepted request body. @default 102400 */
  readonly maxBodyBytes: number;
  /**
   * The audit log's keys and checkpoints (docs/operations/audit-keys.md): `AUDIT_HMAC_KEY`,
   * `AUDIT_HMAC_PREVIOUS_KEYS`, `AUDIT_SIGNING_KEY`, `AUDIT_SIGNING_PREVIOUS_KEYS`,
   * `AUDIT_CHECKPOINT_EVENTS`, `AUDIT_CHECKPOINT_SECONDS`, `AUDIT_CHECKPOINT_DIR`. Without keys,
   * production refuses to start; elsewhere they are generated into `DATA_DIR`.
   */
  readonly audit?: AuditSettings;
  /** `ACCESS_LOG=off` switches off access events (change events are always written). @default on */
  readonly accessLog: boolean;
  /**
   * `ACCESS_REQUEST_TTL_SECONDS`: how long an access request waits for a decision before it
   * expires (60 to 2592000). @default 86400
   */
  readonly accessRequestTtlSeconds?: number;
  /**
   * `FEDERATION`: `subgraph` serves the schema as an Apollo Federation 2 subgraph (`_service`,
   * `_entities`, `Identity @key(fields: "id")`), guarded as usual; `off` serves the plain schema.
   * @default off
   */
  readonly federation?: 'off' | 'subgraph';
  /**
   * Webhook delivery: `WEBHOOK_POLL_MS`, `WEBHOOK_IDLE_POLL_MS`, `WEBHOOK_TIMEOUT_MS`,
   * `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_RETRY_MAX_MS`, `WEBHOOK_MAX_ATTEMPTS`. Unset fields take
   * `DEFAULT_DISPATCH`.
   */
  readonly webhooks?: Partial<WebhookDispatchOptions>;
  /**
   * `OIDC_ISSUERS`: the identity providers whose OIDC JWT bearer tokens are accepted beside API
   * keys (a JSON array, see `OidcIssuer`). None: only API keys are accepted. @default []
   */
  readonly oidcIssuers?: readonly OidcIssuer[];
  /**
   * The expiry sweeper (`grant.expired` events): `EXPIRY_SWEEPER=off` gives `false` (no events;
   * expiry itself is unaffected), `EXPIRY_SWEEP_BATCH` and `EXPIRY_SWEEP_IDLE_MS` tune it. Unset
   * fields take `DEFAULT_EXPIRY_SWEEP`. @default on
   */
  readonly expirySweeper?: Partial<ExpirySweeperOptions> | false;
  /**
   * `GRANT_USAGE_FLUSH_MS`: how often the uses of grants counted in memory are written to
   * `grant_usage` (what a crash can lose). @default 2000
   */
  readonly grantUsageFlushMs?: number;
  /**
   * `REAP_UNUSED_AFTER_SECONDS`: revoke active grants unused for this long, in every scope without
   * a policy of its own (`setScopeReaping`). Unset: only scopes with a policy are reaped.
   */
  readonly reapUnusedAfterSeconds?: number | null;
  /** `REAP_INTERVAL_MS`: how often the reaper looks for unused grants. @default 60000 */
  readonly reapIntervalMs?: number;
  /**
   * The access review closer: `ACCESS_REVIEW_POLL_MS`, the longest it goes without looking for due
   * reviews (it is also woken at each due time and whenever a review starts). Unset fields take
   * `DEFAULT_REVIEW_CLOSER`.
   */
  readonly accessReviews?: Partial<AccessReviewCloserOptions>;
  /**
   * The condition context and the client address (see `ConditionSettings`): `TRUSTED_PROXIES`,
   * `CLIENT_IP_HEADER`, `CONDITION_HEADERS`, `CONDITION_TIME_ZONE`, `DEVICE_HEADER`,
   * `DEVICE_CLAIM`. Unset fields take `DEFAULT_CONDITION_SETTINGS`.
   */
  readonly conditions?: Partial<ConditionSettings>;
  /**
   * `AUTHENTICATION_CACHE_SIZE`: how many authentications (credential and prefetch) are kept for
   * reuse while no newer revision has been committed, 0 to 1000000; 0 keeps none.
   * Revocation stays strict either way. @default 1000
   */
  readonly authenticationCacheSize?: number;
  /**
   * `INSTANCE_LEASE_MS`: on PostgreSQL, how long an instance's lease to answer from its caches
   * lasts unrenewed (renewed every quarter of it), 200 to 60000. A change waits at most this long
   * for an instance that died, was paused or was cut off. @default 2000
   */
  readonly instanceLeaseMs?: number;
  /**
   * `LOG_LEVEL`: the lowest level of the JSON log lines written to stdout (`trace`, `debug`,
   * `info`, `warn`, `error`); `info` includes one access line per HTTP request. @default info
   */
  readonly logLevel?: LogLevel;
  /**
   * `LOG_BUFFER_MS`: 0 writes each log line as it is made (a crash or `kill -9` loses none); 1 to
   * 1000 gathers lines up to 8 KB and writes them at least this often (cheaper per request; a
   * process killed outright loses at most this window, a stop or a crash that exits loses none).
   * @default 0
   */
  readonly logBufferMs?: number;
  /**
   * `OTEL_EXPORTER_OTLP_ENDPOINT`: an OTLP/HTTP collector's base URL; spans are exported to
   * `<endpoint>/v1/traces`. Unset starts no tracing SDK (the API's no-op tracer only).
   * @default unset
   */
  readonly otlpEndpoint?: string | null;
}

/** `Config.audit`. */
export interface AuditSettings extends AuditKeySettings {
  /** `AUDIT_CHECKPOINT_EVENTS`: a checkpoint is signed once this many events follow the last. @default 1000 */
  readonly checkpointEvents?: number;
  /** `AUDIT_CHECKPOINT_SECONDS`: …or once this long has passed with any event after it. @default 60 */
  readonly checkpointSeconds?: number;
  /** `AUDIT_CHECKPOINT_DIR`: the outside sink, one JSON file per checkpoint, never overwritten. */
  readonly checkpointDir?: string | null;
  /** `AUDIT_FULL_VERIFY_HOURS`: a full re-verification this often on each instance; 0: never. @default 24 */
  readonly fullVerifyHours?: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  }
  return value;
}

/** Headers that carry credentials: never a condition's to read, nor an address's or posture's source. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization', 'set-cookie'];
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
const MAX_CONDITION_HEADERS = 50;

function listOf(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function headerName(name: string, raw: string): string {
  const header = raw.trim().toLowerCase();
  if (!HEADER_NAME.test(header)) {
    throw new ConfigError(`${name}: "${raw}" is not an HTTP header name.`);
  }
  if (CREDENTIAL_HEADERS.includes(header)) {
    throw new ConfigError(
      `${name} cannot be "${header}": it carries credentials, which must never reach conditions, explanations or the audit log.`,
    );
  }
  return header;
}

function optionalHeader(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? null : headerName(name, raw);
}

/** `TRUSTED_PROXIES` … `DEVICE_CLAIM`, checked together (they refer to one another). */
function readConditionSettings(
  env: NodeJS.ProcessEnv,
  oidcIssuers: readonly OidcIssuer[],
): ConditionSettings {
  const trustedProxies = listOf(env.TRUSTED_PROXIES);
  for (const range of trustedProxies) {
    if (!isCidrRange(range)) {
      throw new ConfigError(
        `TRUSTED_PROXIES: "${range}" is not an IP address or CIDR range such as "10.0.0.0/8".`,
      );
    }
  }
  const clientIpHeader = optionalHeader(env, 'CLIENT_IP_HEADER');
  if (clientIpHeader !== null && trustedProxies.length === 0) {
    throw new ConfigError(
      `CLIENT_IP_HEADER needs TRUSTED_PROXIES: "${clientIpHeader}" is believed only from a trusted proxy, and none is listed.`,
    );
  }
  const deviceHeader = optionalHeader(env, 'DEVICE_HEADER');
  if (deviceHeader !== null && trustedProxies.length === 0) {
    throw new ConfigError(
      `DEVICE_HEADER needs TRUSTED_PROXIES: "${deviceHeader}" is believed only from a trusted proxy, and none is listed.`,
    );
  }
  if (deviceHeader !== null && deviceHeader === clientIpHeader) {
    throw new ConfigError(`DEVICE_HEADER and CLIENT_IP_HEADER cannot both be "${deviceHeader}".`);
  }
  const headers = [
    ...new Set(listOf(env.CONDITION_HEADERS).map((raw) => headerName('CONDITION_HEADERS', raw))),
  ];
  if (headers.length > MAX_CONDITION_HEADERS) {
    throw new ConfigError(`CONDITION_HEADERS may list at most ${MAX_CONDITION_HEADERS} headers.`);
  }
  for (const [header, other, why] of [
    [clientIpHeader, 'CLIENT_IP_HEADER', 'request.ip'],
    [deviceHeader, 'DEVICE_HEADER', 'device'],
  ] as const) {
    if (header !== null && headers.includes(header)) {
      throw new ConfigError(
        `CONDITION_HEADERS cannot list "${header}", the ${other}: any client can send it, so conditions read it as ${why}, which believes it only from a trusted proxy.`,
      );
    }
  }
  const timeZone = env.CONDITION_TIME_ZONE?.trim() || DEFAULT_CONDITION_SETTINGS.timeZone;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new ConfigError(
      `CONDITION_TIME_ZONE: "${timeZone}" is not an IANA time zone such as "Europe/Berlin" or "UTC".`,
    );
  }
  const deviceClaim = env.DEVICE_CLAIM?.trim() || null;
  if (deviceClaim !== null && !/^\S{1,100}$/.test(deviceClaim)) {
    throw new ConfigError(`DEVICE_CLAIM: "${deviceClaim}" is not a claim name.`);
  }
  if (deviceClaim !== null && oidcIssuers.length === 0) {
    throw new ConfigError(
      `DEVICE_CLAIM names the claim "${deviceClaim}" of identity-provider tokens, but OIDC_ISSUERS lists no identity provider.`,
    );
  }
  return { timeZone, headers, trustedProxies, clientIpHeader, deviceHeader, deviceClaim };
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL must be a postgres:// or postgresql:// URL (or unset, for the embedded database).',
    );
  }
  const bootstrapAdminKey = env.BOOTSTRAP_ADMIN_KEY === '' ? undefined : env.BOOTSTRAP_ADMIN_KEY;
  if (
    bootstrapAdminKey !== undefined &&
    (bootstrapAdminKey.length < 32 || /\s/.test(bootstrapAdminKey))
  ) {
    throw new ConfigError('BOOTSTRAP_ADMIN_KEY must be at least 32 characters with no spaces.');
  }
  const accessLog = env.ACCESS_LOG || 'on';
  if (accessLog !== 'on' && accessLog !== 'off') {
    throw new ConfigError(`ACCESS_LOG must be "on" or "off"; got "${accessLog}".`);
  }
  const consoleSetting = env.CONSOLE || 'on';
  if (consoleSetting !== 'on' && consoleSetting !== 'off') {
    throw new ConfigError(`CONSOLE must be "on" or "off"; got "${consoleSetting}".`);
  }
  const production = env.NODE_ENV === 'production';
  const graphiql = env.GRAPHIQL || (production ? 'off' : 'on');
  if (graphiql !== 'on' && graphiql !== 'off') {
    throw new ConfigError(`GRAPHIQL must be "on" or "off"; got "${graphiql}".`);
  }
  const federation = env.FEDERATION || 'off';
  if (federation !== 'off' && federation !== 'subgraph') {
    throw new ConfigError(`FEDERATION must be "off" or "subgraph"; got "${federation}".`);
  }
  let oidcIssuers: OidcIssuer[];
  try {
    oidcIssuers = parseOidcIssuers(env.OIDC_ISSUERS);
  } catch (error) {
    if (error instanceof OidcIssuersError) throw new ConfigError(`OIDC_ISSUERS: ${error.message}`);
    throw error;
  }
  const expirySweeper = env.EXPIRY_SWEEPER || 'on';
  if (expirySweeper !== 'on' && expirySweeper !== 'off') {
    throw new ConfigError(`EXPIRY_SWEEPER must be "on" or "off"; got "${expirySweeper}".`);
  }
  const port = integer(env, 'PORT', 4000, 0, 65535);
  const metricsPort =
    env.METRICS_PORT === undefined || env.METRICS_PORT === ''
      ? null
      : integer(env, 'METRICS_PORT', 0, 1, 65535);
  if (metricsPort === port) {
    throw new ConfigError(
      `METRICS_PORT must differ from PORT (${port}): it opens a second listener without credentials.`,
    );
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${logLevel}".`);
  }
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || null;
  if (otlpEndpoint !== null && !/^https?:\/\/[^\s]+$/.test(otlpEndpoint)) {
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL; got "${otlpEndpoint}".`,
    );
  }
  return {
    port,
    host: env.HOST || '127.0.0.1',
    logLevel: logLevel as LogLevel,
    logBufferMs: integer(env, 'LOG_BUFFER_MS', 0, 0, 1000),
    otlpEndpoint,
    metricsPort,
    databaseUrl,
    dataDir: env.DATA_DIR || './.keyholder',
    bootstrapAdminKey,
    production,
    console: consoleSetting === 'on',
    graphiql: graphiql === 'on',
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 100 * 1024, 1024, 10 * 1024 * 1024),
    audit: {
      // Unset keys are left out (not `undefined`), so defaults given elsewhere still apply.
      ...(env.AUDIT_HMAC_KEY?.trim() ? { hmacKey: env.AUDIT_HMAC_KEY.trim() } : {}),
      ...(env.AUDIT_SIGNING_KEY?.trim() ? { signingKey: env.AUDIT_SIGNING_KEY.trim() } : {}),
      hmacPreviousKeys: listOf(env.AUDIT_HMAC_PREVIOUS_KEYS),
      signingPreviousKeys: listOf(env.AUDIT_SIGNING_PREVIOUS_KEYS),
      checkpointEvents: integer(env, 'AUDIT_CHECKPOINT_EVENTS', 1000, 1, 1_000_000),
      checkpointSeconds: integer(env, 'AUDIT_CHECKPOINT_SECONDS', 60, 1, 86_400),
      checkpointDir: env.AUDIT_CHECKPOINT_DIR?.trim() || null,
      fullVerifyHours: integer(env, 'AUDIT_FULL_VERIFY_HOURS', 24, 0, 480),
    },
    databaseTimeoutMs: integer(env, 'DATABASE_TIMEOUT_MS', 15_000, 100, 600_000),
    accessLog: accessLog === 'on',
    accessRequestTtlSeconds: integer(env, 'ACCESS_REQUEST_TTL_SECONDS', 86_400, 60, 2_592_000),
    federation,
    grantUsageFlushMs: integer(env, 'GRANT_USAGE_FLUSH_MS', 2000, 10, 60_000),
    reapUnusedAfterSeconds:
      env.REAP_UNUSED_AFTER_SECONDS === undefined || env.REAP_UNUSED_AFTER_SECONDS === ''
        ? null
        : integer(env, 'REAP_UNUSED_AFTER_SECONDS', 0, 1, MAX_UNUSED_SECONDS),
    reapIntervalMs: integer(env, 'REAP_INTERVAL_MS', 60_000, 100, 86_400_000),
    webhooks: {
      pollIntervalMs: integer(env, 'WEBHOOK_POLL_MS', 250, 10, 60_000),
      idlePollMs: integer(env, 'WEBHOOK_IDLE_POLL_MS', 30_000, 100, 3_600_000),
      timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 5000, 100, 60_000),
      retryBaseMs: integer(env, 'WEBHOOK_RETRY_BASE_MS', 1000, 10, 3_600_000),
      retryMaxMs: integer(env, 'WEBHOOK_RETRY_MAX_MS', 300_000, 10, 86_400_000),
      maxAttempts: integer(env, 'WEBHOOK_MAX_ATTEMPTS', 15, 1, 100),
      allowedNetworks: cidrList(env, 'WEBHOOK_ALLOWED_NETWORKS'),
    },
    oidcIssuers,
    expirySweeper:
      expirySweeper === 'off'
        ? false
        : {
            batchSize: integer(env, 'EXPIRY_SWEEP_BATCH', 500, 1, 10_000),
            idlePollMs: integer(env, 'EXPIRY_SWEEP_IDLE_MS', 60_000, 1000, 3_600_000),
          },
    accessReviews: {
      pollMs: integer(env, 'ACCESS_REVIEW_POLL_MS', 60_000, 100, 3_600_000),
    },
    conditions: readConditionSettings(env, oidcIssuers),
    authenticationCacheSize: integer(
      env,
      'AUTHENTICATION_CACHE_SIZE',
      DEFAULT_AUTHENTICATION_CACHE_SIZE,
      0,
      1_000_000,
    ),
    instanceLeaseMs: integer(env, 'INSTANCE_LEASE_MS', DEFAULT_LEASE_MS, 200, 60_000),
  };
}

/** A comma-separated list of CIDR ranges (`10.0.0.0/8, fd00::/8`); empty when unset. */
function cidrList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  const ranges = raw.split(',').map((r) => r.trim());
  const bad = ranges.find((r) => !isCidrRange(r));
  if (bad !== undefined) {
    throw new ConfigError(
      `${name} must be comma-separated CIDR ranges such as 10.0.0.0/8 or fd00::/8; "${bad}" is not one.`,
    );
  }
  return ranges;
}

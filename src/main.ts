import { join } from 'node:path';
import {
  type ConditionSettings,
  DEFAULT_CONDITION_SETTINGS,
} from 'keyholder-directive/conditions/condition-settings.js';
import { invariant } from 'keyholder-directive/errors.js';
import type { Logger } from 'pino';
import { type Config, ConfigError, readConfig } from './config.js';
import { createServices } from './context/services.js';
import { type Database, openDatabase } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { AccessReviewCloser } from './modules/access-reviews/access-review-closer.js';
import type { AccessLogOptions } from './modules/audit/access-log.js';
import { adoptUnsealedEvents } from './modules/audit/adopt-unsealed.js';
import { useAuditKeys } from './modules/audit/audit-chain.js';
import { loadAuditKeys } from './modules/audit/audit-keys.js';
import { ExpirySweeper } from './modules/grants/expiry-sweeper.js';
import { bootstrap } from './modules/identities/bootstrap.js';
import { DpopReplayCache } from './modules/keys/dpop-replay-cache.js';
import { KeyUsageRecorder } from './modules/keys/key-usage-recorder.js';
import { RevisionFeed } from './modules/revision/revision-feed.js';
import type { OidcIssuer } from './modules/tokens/oidc-issuers.js';
import { GrantReaper } from './modules/usage/grant-reaper.js';
import { WebhookDispatcher } from './modules/webhooks/webhook-dispatcher.js';
import { packageRoot } from './package-root.js';
import { type RunningHttpServer, startHttpServer } from './server/http-server.js';
import { buildKeyholderSchema } from './server/schema.js';
import { buildKeyholderSubgraphSchema } from './server/subgraph-schema.js';
import { startComponents } from './start-components.js';
import { createLogger, type LogFunction, logFunction } from './telemetry/logger.js';
import { traceRootFields } from './telemetry/trace-root-fields.js';
import { startTracing, type Tracing } from './telemetry/tracing.js';
import { Scheduler } from './workers/scheduler.js';

export interface Keyholder {
  readonly url: string;
  readonly database: Database;
  readonly http: RunningHttpServer;
  /** The admin key when this start created the admin (tests and first-run output). */
  readonly bootstrapSecret: string | undefined;
  stop(): Promise<void>;
}

/** What `startKeyholder` takes besides the configuration (tests and embedding). */
export interface KeyholderTuning {
  readonly accessLog?: AccessLogOptions;
  /**
   * Where JSON log lines go (the access line of every HTTP request, start-up notes, and `log`
   * when none is given). @default the logger `LOG_LEVEL` and `LOG_BUFFER_MS` describe, on stdout
   */
  readonly logger?: Logger;
  /** PGlite's starting contents (`DatabaseConfig.pgliteContents`). @default a new cluster */
  readonly pgliteContents?: Blob;
}

/**
 * The composition root: tracing (when `OTEL_EXPORTER_OTLP_ENDPOINT` is set), database, migrations
 * (before the port opens), bootstrap, schema, the components that run (live audit feed, usage
 * writers, the scheduler of every background job: expiry sweeper, unused-grant reaper, access
 * review closer, webhook dispatcher, usage writes) and HTTP, started in that order and stopped in
 * reverse (`startComponents`).
 * Used by `npm start` and by the integration tests, which start real servers on port 0.
 * `givenLog` receives what components report (`log(message, error?)`); by default it writes to
 * the logger (`error` level with an error, `warn` without).
 */
export async function startKeyholder(
  config: Config,
  givenLog?: LogFunction,
  tuning: KeyholderTuning = {},
): Promise<Keyholder> {
  const logger = tuning.logger ?? configuredLogger(config);
  const log = givenLog ?? logFunction(logger);
  let tracing: Tracing | null = null;
  const endpoint = config.otlpEndpoint ?? null;
  const schema = traceRootFields(
    config.federation === 'subgraph' ? buildKeyholderSubgraphSchema() : buildKeyholderSchema(),
  );
  const auditSettings = config.audit ?? {};
  const { keys: auditKeySet, source: auditKeySource } = await loadAuditKeys(
    auditSettings,
    config.dataDir,
    config.production,
  );
  useAuditKeys(auditKeySet);
  if (auditKeySource !== 'configured') {
    logger.warn(
      { source: auditKeySource, dataDir: config.dataDir },
      auditKeySource === 'process'
        ? 'AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY are not set: this process made up audit keys that die with it, so its audit log cannot be verified after a restart. Set both (docs/operations/audit-keys.md).'
        : `AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY are not set: the audit keys are kept in ${config.dataDir}/audit-keys.json, beside the data they protect. Set both outside development (docs/operations/audit-keys.md).`,
    );
  }
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    ...(config.databaseTimeoutMs === undefined ? {} : { timeoutMs: config.databaseTimeoutMs }),
    ...(tuning.pgliteContents === undefined ? {} : { pgliteContents: tuning.pgliteContents }),
  });
  let boot: Awaited<ReturnType<typeof bootstrap>> | null = null;
  let http: RunningHttpServer | null = null;
  const conditions: ConditionSettings = { ...DEFAULT_CONDITION_SETTINGS, ...config.conditions };
  const services = createServices(
    database,
    log,
    config.accessLog ? (tuning.accessLog ?? {}) : false,
    config.accessRequestTtlSeconds === undefined
      ? {}
      : { pendingTtlSeconds: config.accessRequestTtlSeconds },
    config.grantUsageFlushMs === undefined ? {} : { flushMs: config.grantUsageFlushMs },
    conditions,
    config.webhooks?.allowedNetworks ?? [],
    config.oidcIssuers ?? [],
  );
  services.auditVerifier.configure({
    events: auditSettings.checkpointEvents ?? 1000,
    seconds: auditSettings.checkpointSeconds ?? 60,
    dir: auditSettings.checkpointDir ?? null,
  });
  const revisionFeed = new RevisionFeed(database, log, config.instanceLeaseMs);
  const keyUsage = new KeyUsageRecorder(database);
  const scheduler = new Scheduler(database, log);
  const expirySweeper =
    config.expirySweeper === false ? null : new ExpirySweeper(database, config.expirySweeper ?? {});
  const webhookDispatcher = new WebhookDispatcher(database, log, config.webhooks);
  const reaper = new GrantReaper(database, log, () => services.grantUsage.flush(), {
    defaultUnusedSeconds: config.reapUnusedAfterSeconds ?? null,
    hasUnwrittenUse: (grantId) => services.grantUsage.hasUnwritten(grantId),
    ...(config.reapIntervalMs === undefined ? {} : { intervalMs: config.reapIntervalMs }),
  });
  for (const job of [
    expirySweeper?.job(),
    reaper.job(),
    new AccessReviewCloser(database, log, config.accessReviews).job(),
    webhookDispatcher.job(),
    webhookDispatcher.resumeJob(),
    services.grantUsage.job(),
    services.accessLog.job(),
    services.auditVerifier.job(),
    (auditSettings.fullVerifyHours ?? 24) > 0
      ? services.auditVerifier.fullJob((auditSettings.fullVerifyHours ?? 24) * 3_600_000)
      : undefined,
    keyUsage.job(),
    new DpopReplayCache(database).job(),
    revisionFeed.job(),
  ]) {
    if (job !== undefined) scheduler.add(job);
  }

  const stop = await startComponents(
    [
      {
        name: 'tracing',
        start: async () => {
          if (endpoint !== null) tracing = await startTracing({ endpoint, log });
        },
        stop: () => (tracing as Tracing | null)?.stop(),
      },
      { name: 'the database', stop: () => database.close() },
      {
        name: 'migrations and bootstrap',
        start: async () => {
          await runMigrations(database, config.databaseUrl);
          const adopted = await adoptUnsealedEvents(database).catch((error: unknown) => {
            log('The audit log written before sealing does not verify; it is left unsealed', error);
            return null;
          });
          if (adopted !== null) {
            logger.warn(
              { sealed: adopted },
              `Keyholder sealed the ${adopted} audit events written before this version (their chain verified).`,
            );
          }
          boot = await bootstrap(database, config.bootstrapAdminKey);
          for (const made of boot.upgradeGrants) {
            logger.info(
              { scope: made.scope, identityId: made.identityId, grantId: made.grantId },
              `Keyholder granted the new built-in scope ${made.scope} to root admin ${made.identityId} (grant ${made.grantId}).`,
            );
          }
        },
      },
      {
        name: 'the revision feed',
        start: async () => {
          await revisionFeed.start();
          database.revisionSource = revisionFeed;
        },
        stop: () => revisionFeed.close(),
      },
      {
        name: 'the sensitive scopes',
        start: () => services.sensitiveScopes.start(),
        stop: () => services.sensitiveScopes.close(),
      },
      {
        name: 'the live audit feed',
        start: () => services.auditFeed.start(),
        stop: () => services.auditFeed.close(),
      },
      { name: 'the access log', stop: () => services.accessLog.close() },
      { name: 'grant usage', stop: () => services.grantUsage.close() },
      {
        name: 'API key usage',
        stop: () => keyUsage.close().catch((error) => log('Could not flush API key usage', error)),
      },
      {
        name: 'the background jobs',
        start: () => scheduler.start(),
        stop: async () => {
          await scheduler.stop();
          await webhookDispatcher.drained();
        },
      },
      {
        name: 'the HTTP server',
        start: async () => {
          http = await startHttpServer(
            {
              schema,
              database,
              services,
              keyUsage,
              expirySweeper,
              webhooks: () => webhookDispatcher.stats(),
              metricsPort: config.metricsPort ?? null,
              production: config.production,
              console:
                config.console === false
                  ? null
                  : {
                      directory: join(packageRoot(), 'dist', 'console'),
                      graphiql: config.graphiql ?? !config.production,
                      signIn: (config.oidcIssuers ?? []).flatMap(({ issuer, console: client }) =>
                        client === null ? [] : [{ issuer, client }],
                      ),
                    },
              maxBodyBytes: config.maxBodyBytes,
              oidcIssuers: offeringClaim(config.oidcIssuers ?? [], conditions.deviceClaim),
              ...(config.authenticationCacheSize === undefined
                ? {}
                : { authenticationCacheSize: config.authenticationCacheSize }),
              log,
              logger,
            },
            { port: config.port, host: config.host },
          );
        },
        stop: () => http?.stop(),
      },
    ],
    log,
  );
  invariant(http !== null && boot !== null, 'every component started');
  const { admin } = boot as Awaited<ReturnType<typeof bootstrap>>;
  const running = http as RunningHttpServer;
  if (admin?.generated) {
    // Plain text, not a log line: a person reads it once and copies the key (never logged).
    console.log(
      [
        '',
        'Keyholder created the root admin. Its API key is shown this once; store it now:',
        '',
        `  ${admin.secret}`,
        '',
        `Use it as:  curl -s ${running.url}/graphql -H 'content-type: application/json' \\`,
        `              -H 'authorization: Bearer ${admin.secret}' -d '{"query":"{ me { id name } }"}'`,
        '',
      ].join('\n'),
    );
  } else if (admin) {
    logger.info(
      { identityId: admin.id },
      'Keyholder created the root admin with the key given in BOOTSTRAP_ADMIN_KEY.',
    );
  }
  return {
    url: running.url,
    database,
    http: running,
    bootstrapSecret: admin?.secret,
    stop,
  };
}

/** `issuers` with `claim` among the claims their tokens offer to conditions (`DEVICE_CLAIM`). */
function offeringClaim(
  issuers: readonly OidcIssuer[],
  claim: string | null,
): readonly OidcIssuer[] {
  if (claim === null) return issuers;
  return issuers.map((issuer) =>
    issuer.claimsForConditions.includes(claim)
      ? issuer
      : { ...issuer, claimsForConditions: [...issuer.claimsForConditions, claim] },
  );
}

/**
 * `npm start` and `keyholder serve`: reads the configuration from the environment (exit 2 when it
 * is wrong), starts Keyholder, prints where it listens, and stops it on SIGINT or SIGTERM.
 */
/** The logger `LOG_LEVEL` and `LOG_BUFFER_MS` describe, on stdout. */
function configuredLogger(config: Config): Logger {
  return createLogger({ level: config.logLevel ?? 'info', bufferMs: config.logBufferMs ?? 0 });
}

export async function serve(): Promise<void> {
  let config: Config;
  try {
    config = readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`keyholder: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = configuredLogger(config);
  let keyholder: Keyholder;
  try {
    keyholder = await startKeyholder(config, undefined, { logger });
  } catch (error) {
    logger.fatal({ err: error }, 'Failed to start');
    process.exit(1);
  }
  logger.info(
    { url: `${keyholder.url}/graphql`, database: keyholder.database.engine },
    `Keyholder listening on ${keyholder.url}/graphql (database: ${keyholder.database.engine}${config.databaseUrl ? '' : `, ${config.dataDir}`}${config.federation === 'subgraph' ? ', federation subgraph' : ''})`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `Keyholder stopping (${signal}).`);
    keyholder.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  serve().catch((error) => {
    console.error('keyholder: failed to start', error);
    process.exit(1);
  });
}

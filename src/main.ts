import {
  type ConditionSettings,
  DEFAULT_CONDITION_SETTINGS,
} from './conditions/condition-settings.js';
import { type Config, ConfigError, readConfig } from './config.js';
import { type Database, openDatabase } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { AccessReviewCloser } from './modules/access-reviews/access-review-closer.js';
import type { AccessLogOptions } from './modules/audit/access-log.js';
import { ExpirySweeper } from './modules/grants/expiry-sweeper.js';
import { bootstrap } from './modules/identities/bootstrap.js';
import { KeyUsageRecorder } from './modules/keys/key-usage-recorder.js';
import type { OidcIssuer } from './modules/tokens/oidc-issuers.js';
import { GrantReaper } from './modules/usage/grant-reaper.js';
import { WebhookDispatcher } from './modules/webhooks/webhook-dispatcher.js';
import { type RunningHttpServer, startHttpServer } from './server/http-server.js';
import { buildKeyholderSchema } from './server/schema.js';
import { createServices } from './server/services.js';
import { buildKeyholderSubgraphSchema } from './server/subgraph-schema.js';

export interface Keyholder {
  readonly url: string;
  readonly database: Database;
  readonly http: RunningHttpServer;
  /** The admin key when this start created the admin (tests and first-run output). */
  readonly bootstrapSecret: string | undefined;
  stop(): Promise<void>;
}

/**
 * The composition root: database, migrations (before the port opens), bootstrap, schema, HTTP,
 * and the background pieces (key and grant usage, unused-grant reaper, live audit feed, webhook
 * dispatcher, expiry sweeper, access review closer).
 * Used by `npm start` and by the integration tests, which start real servers on port 0.
 */
export async function startKeyholder(
  config: Config,
  log = defaultLog,
  tuning: { readonly accessLog?: AccessLogOptions } = {},
): Promise<Keyholder> {
  const schema =
    config.federation === 'subgraph' ? buildKeyholderSubgraphSchema() : buildKeyholderSchema();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let expirySweeper: ExpirySweeper | null = null;
  try {
    await runMigrations(database, config.databaseUrl);
    const boot = await bootstrap(database, config.bootstrapAdminKey);
    for (const made of boot.upgradeGrants) {
      console.log(
        `Keyholder granted the new built-in scope ${made.scope} to root admin ${made.identityId} (grant ${made.grantId}).`,
      );
    }
    const keyUsage = new KeyUsageRecorder(database, log);
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
    );
    await services.sensitiveScopes.start();
    const reaper = new GrantReaper(database, log, () => services.grantUsage.flush(), {
      defaultUnusedSeconds: config.reapUnusedAfterSeconds ?? null,
      hasUnwrittenUse: (grantId) => services.grantUsage.hasUnwritten(grantId),
      ...(config.reapIntervalMs === undefined ? {} : { intervalMs: config.reapIntervalMs }),
    });
    await services.auditFeed.start();
    const webhookDispatcher = new WebhookDispatcher(database, log, config.webhooks);
    await webhookDispatcher.start();
    expirySweeper =
      config.expirySweeper === false
        ? null
        : new ExpirySweeper(database, log, config.expirySweeper ?? {});
    await expirySweeper?.start();
    const reviewCloser = new AccessReviewCloser(database, log, config.accessReviews);
    await reviewCloser.start();
    const http = await startHttpServer(
      {
        schema,
        database,
        services,
        keyUsage,
        expirySweeper,
        production: config.production,
        maxBodyBytes: config.maxBodyBytes,
        oidcIssuers: offeringClaim(config.oidcIssuers ?? [], conditions.deviceClaim),
        ...(config.authenticationCacheSize === undefined
          ? {}
          : { authenticationCacheSize: config.authenticationCacheSize }),
        log,
      },
      { port: config.port, host: config.host },
    );
    reaper.start();
    if (boot.admin?.generated) {
      console.log(
        [
          '',
          'Keyholder created the root admin. Its API key is shown this once; store it now:',
          '',
          `  ${boot.admin.secret}`,
          '',
          `Use it as:  curl -s ${http.url}/graphql -H 'content-type: application/json' \\`,
          `              -H 'authorization: Bearer ${boot.admin.secret}' -d '{"query":"{ me { id name } }"}'`,
          '',
        ].join('\n'),
      );
    } else if (boot.admin) {
      console.log('Keyholder created the root admin with the key given in BOOTSTRAP_ADMIN_KEY.');
    }
    return {
      url: http.url,
      database,
      http,
      bootstrapSecret: boot.admin?.secret,
      async stop() {
        await http.stop();
        await reaper.stop();
        await services.grantUsage.close();
        await services.accessLog.close();
        await services.auditFeed.close();
        await services.sensitiveScopes.close();
        await webhookDispatcher.stop();
        await expirySweeper?.stop();
        await reviewCloser.stop();
        await keyUsage.close().catch((error) => log('Could not flush API key usage', error));
        await database.close();
      },
    };
  } catch (error) {
    await expirySweeper?.stop().catch(() => {});
    await database.close().catch(() => {});
    throw error;
  }
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

function defaultLog(message: string, error?: unknown): void {
  console.error(`[keyholder] ${message}`, error ?? '');
}

async function main(): Promise<void> {
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
  const keyholder = await startKeyholder(config);
  console.log(
    `Keyholder listening on ${keyholder.url}/graphql (database: ${keyholder.database.engine}${config.databaseUrl ? '' : `, ${config.dataDir}`}${config.federation === 'subgraph' ? ', federation subgraph' : ''})`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`Keyholder stopping (${signal}).`);
    keyholder.stop().then(
      () => process.exit(0),
      (error) => {
        defaultLog('Shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((error) => {
    defaultLog('Failed to start', error);
    process.exit(1);
  });
}

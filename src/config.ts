import type { AccessReviewCloserOptions } from './modules/access-reviews/access-review-closer.js';
import type { WebhookDispatchOptions } from './modules/webhooks/webhook-dispatcher.js';

/** Process configuration, read once from the environment at start. */
export interface Config {
  /** `PORT`. @default 4000 */
  readonly port: number;
  /** `HOST`. @default 127.0.0.1 */
  readonly host: string;
  /** `DATABASE_URL`: a postgres:// URL selects PostgreSQL; absent selects embedded PGlite. */
  readonly databaseUrl: string | undefined;
  /** `DATA_DIR`: PGlite's directory. @default ./.keyholder */
  readonly dataDir: string;
  /** `BOOTSTRAP_ADMIN_KEY`: the root admin's key on first start (at least 32 characters). */
  readonly bootstrapAdminKey: string | undefined;
  /** `NODE_ENV === 'production'`: no landing page. */
  readonly production: boolean;
  /** `MAX_BODY_BYTES`: largest accepted request body. @default 102400 */
  readonly maxBodyBytes: number;
  /** `ACCESS_LOG=off` switches off access events (change events are always written). @default on */
  readonly accessLog: boolean;
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
   * The access review closer: `ACCESS_REVIEW_POLL_MS`, the longest it goes without looking for due
   * reviews (it is also woken at each due time and whenever a review starts). Unset fields take
   * `DEFAULT_REVIEW_CLOSER`.
   */
  readonly accessReviews?: Partial<AccessReviewCloserOptions>;
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
  const federation = env.FEDERATION || 'off';
  if (federation !== 'off' && federation !== 'subgraph') {
    throw new ConfigError(`FEDERATION must be "off" or "subgraph"; got "${federation}".`);
  }
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    dataDir: env.DATA_DIR || './.keyholder',
    bootstrapAdminKey,
    production: env.NODE_ENV === 'production',
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 100 * 1024, 1024, 10 * 1024 * 1024),
    accessLog: accessLog === 'on',
    federation,
    webhooks: {
      pollIntervalMs: integer(env, 'WEBHOOK_POLL_MS', 250, 10, 60_000),
      idlePollMs: integer(env, 'WEBHOOK_IDLE_POLL_MS', 30_000, 100, 3_600_000),
      timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 5000, 100, 60_000),
      retryBaseMs: integer(env, 'WEBHOOK_RETRY_BASE_MS', 1000, 10, 3_600_000),
      retryMaxMs: integer(env, 'WEBHOOK_RETRY_MAX_MS', 300_000, 10, 86_400_000),
      maxAttempts: integer(env, 'WEBHOOK_MAX_ATTEMPTS', 15, 1, 100),
    },
    accessReviews: {
      pollMs: integer(env, 'ACCESS_REVIEW_POLL_MS', 60_000, 100, 3_600_000),
    },
  };
}

import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { JobDefinition } from '../../workers/scheduler.js';

/**
 * Records `lastUsedAt` off the request path: uses are kept in memory and written in one statement
 * per flush. A crash loses at most one interval of last-use times (never an authorization).
 */
export class KeyUsageRecorder {
  readonly #pending = new Map<string, Date>();

  constructor(
    private readonly database: Database,
    /** @default 5000 */
    private readonly intervalMs = 5000,
  ) {}

  /** Writing last uses every `intervalMs`, as a job of the scheduler. */
  job(): JobDefinition {
    return {
      name: 'key-usage',
      run: async () => {
        await this.flush();
        return undefined;
      },
      intervalMs: this.intervalMs,
      firstRunMs: this.intervalMs,
      retryBaseMs: this.intervalMs,
      retryMaxMs: this.intervalMs,
      failure: 'Could not record API key last use',
    };
  }

  record(keyId: string, at = new Date()): void {
    this.#pending.set(keyId, at);
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const entries = [...this.#pending];
    this.#pending.clear();
    const values = sql.join(
      entries.map(([id, at]) => sql`(${id}::uuid, ${at.toISOString()}::timestamptz)`),
      sql`, `,
    );
    await this.database.db.execute(
      sql`update api_keys set last_used_at = greatest(api_keys.last_used_at, v.at) from (values ${values}) as v(id, at) where api_keys.id = v.id`,
    );
  }

  /** Writes what is pending: after the scheduler stopped. */
  async close(): Promise<void> {
    await this.flush();
  }
}

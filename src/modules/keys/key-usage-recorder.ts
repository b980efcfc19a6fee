import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

/**
 * Records `lastUsedAt` off the request path: uses are kept in memory and written in one statement
 * per flush. A crash loses at most one interval of last-use times (never an authorization).
 */
export class KeyUsageRecorder {
  readonly #pending = new Map<string, Date>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly database: Database,
    log: (message: string, error?: unknown) => void,
    /** @default 5000 */
    intervalMs = 5000,
  ) {
    this.#timer = setInterval(() => {
      this.flush().catch((error) => log('Could not record API key last use', error));
    }, intervalMs);
    this.#timer.unref();
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

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

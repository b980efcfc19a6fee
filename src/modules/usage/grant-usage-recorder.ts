import type { Database } from '../../db/client.js';
import type { JobDefinition } from '../../workers/scheduler.js';

/** Tuning of the grant usage writer. */
export interface GrantUsageOptions {
  /** How often pending uses are written. @default 2000 */
  readonly flushMs?: number;
  /** Most grants written by one statement. @default 1000 */
  readonly batchSize?: number;
}

interface Pending {
  count: number;
  lastUsedAt: number;
}

/**
 * Adds a batch to `grant_usage`: `$1` is a JSON array of `{ g, t, n }` (grant id, last use, uses),
 * sorted by grant id so two instances upserting the same rows lock them in the same order; and
 * marks the scopes of those grants (a role's: each of its scopes) as used somewhere that reports
 * (`scopes.first_used_at`), once, in the same statement.
 */
const UPSERT_BATCH = `with batch as (
    select (e ->> 'g')::uuid as grant_id, (e ->> 't')::timestamptz as at, (e ->> 'n')::bigint as n
    from jsonb_array_elements($1::jsonb) as batch(e)
  ),
  upserted as (
    insert into grant_usage (grant_id, last_used_at, use_count)
    select grant_id, at, n from batch order by grant_id
    on conflict (grant_id) do update set
      use_count = grant_usage.use_count + excluded.use_count,
      last_used_at = greatest(grant_usage.last_used_at, excluded.last_used_at)
    returning grant_id
  )
  update scopes set first_used_at = now()
  where first_used_at is null and name in (
    select coalesce(g.scope, rs.scope) from upserted u
    join grants g on g.id = u.grant_id
    left join role_scopes rs on rs.role = g.role
  )`;

/**
 * Records which grants authorized something, and how often, off the request path:
 * - `record` only updates an in-memory map (one entry per distinct grant, so memory is bounded by
 *   the number of grants, not by traffic) and never touches the database;
 * - every `flushMs` (`job()`), and on `flush`/`close`, the map is written with one upsert per `batchSize`
 *   grants (counts added, `last_used_at` never moved back);
 * - a failed write merges its uses back and is retried at the next flush (logged once until it
 *   recovers). A crash loses the uses not yet written (at most `flushMs` while the database is
 *   healthy); never a decision, which was made before the use was recorded.
 */
export class GrantUsageRecorder {
  readonly #database: Database;
  readonly #log: (message: string, error?: unknown) => void;
  readonly #batchSize: number;
  readonly #flushMs: number;
  #pending = new Map<string, Pending>();
  /** The uses each `flush` in progress is writing, until its write has committed or failed. */
  readonly #writing = new Set<ReadonlyMap<string, Pending>>();
  #failingSince: Date | null = null;

  constructor(
    database: Database,
    log: (message: string, error?: unknown) => void,
    options: GrantUsageOptions = {},
  ) {
    this.#database = database;
    this.#log = log;
    this.#batchSize = options.batchSize ?? 1000;
    this.#flushMs = options.flushMs ?? 2000;
  }

  /** Writing pending uses every `flushMs`, as a job of the scheduler (failures are logged here). */
  job(): JobDefinition {
    return {
      name: 'grant-usage',
      run: async () => {
        await this.flush().catch(() => {});
        return undefined;
      },
      intervalMs: this.#flushMs,
      firstRunMs: this.#flushMs,
    };
  }

  /** Counts one use of each grant in `grantIds` at `at`. */
  record(grantIds: readonly string[], at = Date.now()): void {
    for (const id of grantIds) this.#add(id, 1, at);
  }

  /** Distinct grants with uses not yet written. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether a use of `grantId` recorded here is not yet in the database (pending or in a write). */
  hasUnwritten(grantId: string): boolean {
    if (this.#pending.has(grantId)) return true;
    for (const uses of this.#writing) if (uses.has(grantId)) return true;
    return false;
  }

  /** Writes every pending use now; rejects (keeping them for the next try) if a write fails. */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const writing = this.#pending;
    const entries = [...writing].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#pending = new Map();
    this.#writing.add(writing);
    try {
      await this.#write(entries);
    } finally {
      this.#writing.delete(writing);
    }
  }

  async #write(entries: readonly [string, Pending][]): Promise<void> {
    for (let i = 0; i < entries.length; i += this.#batchSize) {
      const batch = entries.slice(i, i + this.#batchSize);
      try {
        await this.#database.query(UPSERT_BATCH, [
          JSON.stringify(
            batch.map(([id, p]) => ({
              g: id,
              t: new Date(p.lastUsedAt).toISOString(),
              n: p.count,
            })),
          ),
        ]);
      } catch (error) {
        for (const [id, p] of entries.slice(i)) this.#add(id, p.count, p.lastUsedAt);
        if (this.#failingSince === null) {
          this.#failingSince = new Date();
          this.#log(
            `Could not record the use of ${entries.length - i} grants; keeping the counts and retrying`,
            error,
          );
        }
        throw error;
      }
    }
    if (this.#failingSince !== null) {
      this.#log(
        `Grant usage writes recovered after failing since ${this.#failingSince.toISOString()}`,
      );
      this.#failingSince = null;
    }
  }

  /** Writes what is pending (logged, not thrown, if it cannot): after the scheduler stopped. */
  async close(): Promise<void> {
    await this.flush().catch((error) =>
      this.#log(`Grant usage closed with ${this.#pending.size} grants' uses unwritten`, error),
    );
  }

  #add(id: string, count: number, at: number): void {
    const seen = this.#pending.get(id);
    if (seen === undefined) {
      this.#pending.set(id, { count, lastUsedAt: at });
      return;
    }
    seen.count += count;
    if (at > seen.lastUsedAt) seen.lastUsedAt = at;
  }
}

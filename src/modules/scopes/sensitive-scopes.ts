import { eq, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client.js';
import { scopes } from '../../db/tables.js';

/** Notified (at commit) by every change that may change which scopes are sensitive. */
const CHANNEL = 'keyholder_scope_policy';

/**
 * Tells every instance, when `tx` commits, that the set of sensitive scopes may have changed.
 * Call it inside the transaction that changes a scope's `sensitive` flag.
 */
export async function announceSensitivityChange(tx: Tx, scope: string): Promise<void> {
  await tx.execute(sql`select pg_notify(${CHANNEL}, ${scope})`);
}

/**
 * The names of the sensitive scopes, kept in memory per process so that no request pays a
 * statement to learn them: read at start, and read again whenever a policy change on any instance
 * announces itself (`LISTEN keyholder_scope_policy`, delivered at its commit). Between a commit
 * and the notification's arrival (milliseconds) another instance still uses the previous set;
 * if a re-read fails, the previous set is kept and the failure logged.
 */
export class SensitiveScopes {
  #names: ReadonlySet<string> = new Set();
  #unlisten: (() => Promise<void>) | null = null;
  #reading: Promise<void> | null = null;
  #again = false;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
  ) {}

  /** Listens first, then reads, so no change committed in between is missed. */
  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(CHANNEL, () => {
      this.refresh().catch(() => {});
    });
    await this.#read();
  }

  /** The sensitive scope names as last read. */
  get names(): ReadonlySet<string> {
    return this.#names;
  }

  has(scope: string): boolean {
    return this.#names.has(scope);
  }

  /** Reads the set again (coalescing calls that arrive while a read runs). */
  async refresh(): Promise<void> {
    if (this.#reading !== null) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          await this.#read();
        } catch (error) {
          this.log('Could not re-read the sensitive scopes; keeping the previous set', error);
        }
      } while (this.#again);
    })().finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  async close(): Promise<void> {
    await this.#unlisten?.().catch((error) =>
      this.log('Could not stop listening for scope policy changes', error),
    );
    this.#unlisten = null;
  }

  async #read(): Promise<void> {
    const rows = await this.database.db
      .select({ name: scopes.name })
      .from(scopes)
      .where(eq(scopes.sensitive, true));
    this.#names = new Set(rows.map((r) => r.name));
  }
}

import type { Database } from '../../db/client.js';
import { closeDueReviews } from './close-due-reviews.js';
import { REVIEW_STARTED_CHANNEL } from './start-access-review.js';

/** How the due-time closer runs. Every field has a default (`DEFAULT_REVIEW_CLOSER`). */
export interface AccessReviewCloserOptions {
  /**
   * The longest an instance goes without looking for due reviews. It is woken at the earliest
   * open review's `dueAt`, and when any instance starts a review (LISTEN/NOTIFY); this look only
   * covers a wake-up that was missed (a LISTEN connection re-established). @default 60000
   */
  readonly pollMs: number;
  /** Items decided at the due time per transaction. @default 500 */
  readonly batchSize: number;
}

export const DEFAULT_REVIEW_CLOSER: AccessReviewCloserOptions = { pollMs: 60_000, batchSize: 500 };

/** Pause before looking again while another instance holds the closer's lock. */
const BUSY_RETRY_MS = 1000;
/** Pause before trying again after a failure (database unavailable). */
const FAILURE_RETRY_MS = 5000;
/** Shortest wait, so a due time a few milliseconds away never spins. */
const MIN_WAIT_MS = 10;

// When the earliest open review falls due, in ms from now by the database's clock (null: none).
const NEXT_DUE_SQL = `
select (extract(epoch from (min(due_at) - now())) * 1000)::float8 as due_in_ms
from access_reviews where status = 'OPEN'`;

/**
 * Closes access reviews at their due time (see `closeDueReviews`), in the background:
 * - a timer armed at the earliest open review's `dueAt`, re-armed whenever a review starts on any
 *   instance (NOTIFY), and at most `pollMs` apart in case a notification was missed;
 * - on start it catches up on every review that fell due while no instance was running;
 * - instances share the work through a per-transaction advisory lock: one closes, the others
 *   look again a second later; nothing is done twice;
 * - failures are logged and retried after five seconds; they never reach a request.
 */
export class AccessReviewCloser {
  readonly #options: AccessReviewCloserOptions;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;
  #dueAt = 0;
  #running: Promise<void> | null = null;
  #again = false;
  #next = 0;
  #unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
    options: Partial<AccessReviewCloserOptions> = {},
  ) {
    this.#options = { ...DEFAULT_REVIEW_CLOSER, ...options };
  }

  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(REVIEW_STARTED_CHANNEL, () => this.#wake());
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#unlisten?.().catch((error) =>
      this.log('Could not stop listening for access reviews', error),
    );
    await this.#running;
  }

  #wake(): void {
    if (this.#running !== null) this.#again = true;
    else this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopping) return;
    const dueAt = Date.now() + ms;
    if (this.#timer !== null && this.#dueAt <= dueAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.#run().finally(() => {
        this.#running = null;
        this.#schedule(this.#again ? 0 : this.#next);
        this.#again = false;
      });
    }, ms);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const { pollMs, batchSize } = this.#options;
    try {
      for (;;) {
        if (this.#stopping) return;
        const run = await closeDueReviews(this.database, batchSize, this.log);
        if (run === 'busy') {
          this.#next = BUSY_RETRY_MS;
          return;
        }
        if (run === 'idle') break;
      }
      const [next] = await this.database.query<{ due_in_ms: number | null }>(NEXT_DUE_SQL);
      const dueInMs = next?.due_in_ms ?? null;
      this.#next =
        dueInMs === null
          ? pollMs
          : Math.min(pollMs, Math.max(MIN_WAIT_MS, Math.ceil(Number(dueInMs))));
    } catch (error) {
      this.log('Could not close due access reviews', error);
      this.#next = Math.min(pollMs, FAILURE_RETRY_MS);
    }
  }
}

import type { Database } from '../../db/client.js';
import type { JobDefinition, RunResult } from '../../workers/scheduler.js';
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
 * Closes access reviews at their due time (see `closeDueReviews`), as a job of the scheduler
 * (`job()`):
 * - it runs at the earliest open review's `dueAt`, is woken whenever a review starts on any
 *   instance (NOTIFY), and looks at most `pollMs` apart in case a notification was missed;
 * - on start it catches up on every review that fell due while no instance was running;
 * - instances share the work through a per-transaction advisory lock: one closes, the others
 *   look again a second later; nothing is done twice;
 * - failures are logged and retried after five seconds; they never reach a request.
 */
export class AccessReviewCloser {
  readonly #options: AccessReviewCloserOptions;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
    options: Partial<AccessReviewCloserOptions> = {},
  ) {
    this.#options = { ...DEFAULT_REVIEW_CLOSER, ...options };
  }

  job(): JobDefinition {
    const { pollMs } = this.#options;
    const retryMs = Math.min(pollMs, FAILURE_RETRY_MS);
    return {
      name: 'access-review-closer',
      run: (job) => this.#run(job.signal),
      intervalMs: pollMs,
      busyRetryMs: BUSY_RETRY_MS,
      retryBaseMs: retryMs,
      retryMaxMs: retryMs,
      wakeOn: { channel: REVIEW_STARTED_CHANNEL },
      failure: 'Could not close due access reviews',
    };
  }

  /** Closes what is due, then says when the next review falls due. */
  async #run(stopping: AbortSignal): Promise<RunResult> {
    for (;;) {
      if (stopping.aborted) return undefined;
      const run = await closeDueReviews(this.database, this.#options.batchSize, this.log);
      if (run === 'busy') return 'busy';
      if (run === 'idle') break;
    }
    const [next] = await this.database.query<{ due_in_ms: number | null }>(NEXT_DUE_SQL);
    const dueInMs = next?.due_in_ms ?? null;
    return dueInMs === null ? undefined : Math.max(MIN_WAIT_MS, Math.ceil(Number(dueInMs)));
  }
}

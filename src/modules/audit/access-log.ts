import type { Database } from '../../db/client.js';
import type { AuditAction } from './audit-actions.js';

/** One access event, as it is queued for the audit log. */
export interface AccessEvent {
  readonly action: AuditAction;
  readonly actorId: string;
  readonly details: Record<string, unknown>;
}

/** Tuning of the access log writer. */
export interface AccessLogOptions {
  /** Events held in memory; when full, `append` makes its caller wait (back-pressure). @default 10000 */
  readonly capacity?: number;
  /** Longest an event waits before it is written. @default 100 */
  readonly flushMs?: number;
  /** Most events written by one INSERT. @default 500 */
  readonly batchSize?: number;
  /**
   * How long `append` waits for room in a full queue before it rejects; the caller then withholds
   * its response (fail closed: nothing is served whose access cannot be recorded). @default 5000
   */
  readonly maxWaitMs?: number;
}

/** What `/healthz` and the operator see of the writer. */
export interface AccessLogStatus {
  readonly pending: number;
  /** When writes started failing, or `null` while they succeed. */
  readonly failingSince: Date | null;
}

interface Waiter {
  readonly row: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const MAX_RETRY_MS = 5000;

/** Appends a batch, in order, through the chain trigger: `$1` is a JSON array of `{ a, u, d }`. */
const INSERT_BATCH = `insert into audit_events (action, actor_id, subject_id, details)
  select e ->> 'a', (e ->> 'u')::uuid, null, e -> 'd'
  from jsonb_array_elements($1::jsonb) with ordinality as batch(e, n)
  order by n`;

/**
 * An event as one element of `INSERT_BATCH`'s array, serialized when it is queued: the queue holds
 * flat strings rather than object trees the garbage collector would trace and promote while they
 * wait, and a batch is their concatenation.
 */
function rowOf(event: AccessEvent): string {
  return JSON.stringify({ a: event.action, u: event.actorId, d: event.details });
}

/**
 * Writes access events to the audit log off the request path: queued in memory, written in
 * batches (one multi-row INSERT through the chain trigger) at least every `flushMs`, and on close.
 * - A failed write keeps its events at the head of the queue and retries with backoff; nothing is
 *   dropped. While writes fail the queue fills, and then `append` waits for room, then rejects.
 * - A crash loses what was queued and not yet written: at most `flushMs` of events when the
 *   database is healthy, up to `capacity` while it is failing (logged, and shown by `/healthz`).
 */
export class AccessLog {
  readonly #database: Database;
  readonly #log: (message: string, error?: unknown) => void;
  readonly #capacity: number;
  readonly #flushMs: number;
  readonly #batchSize: number;
  readonly #maxWaitMs: number;
  /** Queued events, each as `rowOf` serialized it. */
  readonly #queue: string[] = [];
  readonly #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #dueAt = 0;
  #flushing: Promise<void> | null = null;
  #failures = 0;
  #failingSince: Date | null = null;
  #closed = false;

  constructor(
    database: Database,
    log: (message: string, error?: unknown) => void,
    options: AccessLogOptions = {},
  ) {
    this.#database = database;
    this.#log = log;
    this.#capacity = options.capacity ?? 10_000;
    this.#flushMs = options.flushMs ?? 100;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxWaitMs = options.maxWaitMs ?? 5000;
  }

  /**
   * Queues `event`; `undefined` when it was taken at once, a promise when the queue is full, which
   * rejects after `maxWaitMs` (default: the log's; `Infinity` waits until there is room).
   */
  append(event: AccessEvent, maxWaitMs = this.#maxWaitMs): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(new Error('The access log is closed.'));
    const row = rowOf(event);
    if (this.#queue.length < this.#capacity) {
      this.#queue.push(row);
      this.#schedule();
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { row, resolve, reject, timer: undefined };
      if (Number.isFinite(maxWaitMs)) {
        waiter.timer = setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          reject(
            new Error(`The access log has been full for ${maxWaitMs} ms; it cannot be written.`),
          );
        }, maxWaitMs);
      }
      this.#waiters.push(waiter);
      this.#schedule();
    });
  }

  status(): AccessLogStatus {
    return { pending: this.#queue.length + this.#waiters.length, failingSince: this.#failingSince };
  }

  /** Writes everything queued now; rejects (keeping what is left) if a write fails. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing.catch(() => {});
    while (this.#queue.length > 0) {
      const run = this.#writeBatch();
      this.#flushing = run;
      try {
        await run;
      } finally {
        this.#flushing = null;
      }
    }
  }

  /** Stops accepting events and writes what is queued, retrying until `deadlineMs` passes. */
  async close(deadlineMs = 10_000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        await this.flush();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          this.#log(
            `Access log closed with ${this.status().pending} events that could not be written`,
            error,
          );
          for (const waiter of this.#waiters.splice(0)) {
            clearTimeout(waiter.timer);
            waiter.reject(new Error('The access log closed before the event could be queued.'));
          }
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /**
   * Arms the write timer: at once when a batch is full or writers wait for room, after `flushMs`
   * otherwise, after a growing backoff while writes fail. An earlier timer already armed stays.
   */
  #schedule(): void {
    if (this.#closed || this.#flushing !== null) return;
    const full = this.#queue.length >= this.#batchSize || this.#waiters.length > 0;
    const delay =
      this.#failures > 0
        ? Math.min(MAX_RETRY_MS, this.#flushMs * 2 ** this.#failures)
        : full
          ? 0
          : this.#flushMs;
    const dueAt = Date.now() + delay;
    if (this.#timer !== undefined) {
      if (this.#dueAt <= dueAt) return;
      clearTimeout(this.#timer);
    }
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#background();
    }, delay);
    this.#timer.unref();
  }

  #background(): void {
    if (this.#flushing !== null || this.#queue.length === 0) return;
    const run = this.#writeBatch();
    this.#flushing = run;
    run
      .catch(() => {})
      .finally(() => {
        this.#flushing = null;
        if (this.#queue.length > 0) this.#schedule();
      });
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#queue.slice(0, this.#batchSize);
    try {
      // One statement text whatever the batch size (one prepared statement), one parameter.
      await this.#database.query(INSERT_BATCH, [`[${batch.join(',')}]`]);
    } catch (error) {
      this.#failures += 1;
      if (this.#failingSince === null) {
        this.#failingSince = new Date();
        this.#log(
          `Could not write ${batch.length} access events to the audit log; keeping them and retrying`,
          error,
        );
      }
      throw error;
    }
    this.#queue.splice(0, batch.length);
    if (this.#failingSince !== null) {
      this.#log(
        `Access log writes recovered after failing since ${this.#failingSince.toISOString()}`,
      );
    }
    this.#failures = 0;
    this.#failingSince = null;
    while (this.#waiters.length > 0 && this.#queue.length < this.#capacity) {
      const waiter = this.#waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.#queue.push(waiter.row);
      waiter.resolve();
    }
  }
}

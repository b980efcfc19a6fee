import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { Job, JobDefinition } from '../../workers/scheduler.js';
import type { AuditAction } from './audit-actions.js';
import { CHAINED_COLUMNS, type ChainedEvent, sealEvents } from './audit-chain.js';

/** One access event, as it is queued for the audit log. */
export interface AccessEvent {
  readonly action: AuditAction;
  /** Who acted; `null` for one nobody could be authenticated as (`auth.failed`). */
  readonly actorId: string | null;
  /** The identity the decisions were about, when not the actor (an AuthZEN evaluation's subject). */
  readonly subjectId?: string;
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

/** Appends a batch, in order, through the chain trigger: `rows` is a JSON array of `{ a, u, s, d }`. */
function insertBatch(rows: string): SQL {
  return sql`insert into audit_events as e (action, actor_id, subject_id, details)
  select b ->> 'a', (b ->> 'u')::uuid, b ->> 's', b -> 'd'
  from jsonb_array_elements(${rows}::jsonb) with ordinality as batch(b, n)
  order by n
  returning ${sql.raw(CHAINED_COLUMNS)}`;
}

/**
 * An event as one element of `INSERT_BATCH`'s array, serialized when it is queued: the queue holds
 * flat strings rather than object trees the garbage collector would trace and promote while they
 * wait, and a batch is their concatenation.
 */
function rowOf(event: AccessEvent): string {
  return JSON.stringify({
    a: event.action,
    u: event.actorId,
    s: event.subjectId,
    d: event.details,
  });
}

/**
 * Writes access events to the audit log off the request path: queued in memory, written in
 * batches (one multi-row INSERT through the chain trigger) by the scheduler's `access-log` job
 * (`job()`), woken `flushMs` after an event is queued (at once when a batch is full or writers
 * wait for room), and on close.
 * - A failed write keeps its events at the head of the queue and the scheduler retries with
 *   backoff; nothing is dropped. While writes fail the queue fills, and then `append` waits for
 *   room, then rejects.
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
  #job: Job | null = null;
  #flushing: Promise<void> | null = null;
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
      this.#wake();
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
      this.#wake();
    });
  }

  status(): AccessLogStatus {
    return { pending: this.#queue.length + this.#waiters.length, failingSince: this.#failingSince };
  }

  /**
   * Writing queued events, as a job of the scheduler: run when woken by `append`, one batch per
   * run and again at once while more wait; a failed write is retried with the scheduler's backoff
   * (from twice `flushMs` up to 5 s).
   */
  job(): JobDefinition {
    return {
      name: 'access-log',
      run: async () => {
        while (this.#flushing !== null) await this.#flushing.catch(() => {});
        if (this.#queue.length === 0) return undefined;
        await this.#write();
        // A full batch (or writers waiting for room) goes at once; a remainder gathers for
        // `flushMs` first, as one small INSERT per few events would cost the database more.
        if (this.#queue.length >= this.#batchSize || this.#waiters.length > 0) return 0;
        return this.#queue.length > 0 ? this.#flushMs : undefined;
      },
      intervalMs: null,
      firstRunMs: null,
      retryBaseMs: this.#flushMs * 2,
      retryMaxMs: MAX_RETRY_MS,
      failure: 'Could not write access events to the audit log (they are kept)',
      recovery: 'Access log writes recovered',
      attached: (job) => {
        this.#job = job;
        if (this.#queue.length > 0) this.#wake();
      },
    };
  }

  /** Writes everything queued now; rejects (keeping what is left) if a write fails. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing.catch(() => {});
    while (this.#queue.length > 0) await this.#write();
  }

  /** Stops accepting events and writes what is queued, retrying until `deadlineMs` passes. */
  async close(deadlineMs = 10_000): Promise<void> {
    this.#closed = true;
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

  /** Asks the job for a write: at once when a batch is full or writers wait, else in `flushMs`. */
  #wake(): void {
    if (this.#closed || this.#job === null) return;
    const full = this.#queue.length >= this.#batchSize || this.#waiters.length > 0;
    this.#job.wake(full ? 0 : this.#flushMs);
  }

  /** One batch, never two at once. */
  async #write(): Promise<void> {
    const run = this.#writeBatch();
    this.#flushing = run;
    try {
      await run;
    } finally {
      this.#flushing = null;
    }
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#queue.slice(0, this.#batchSize);
    try {
      // One statement text whatever the batch size (one prepared statement), one parameter; the
      // batch's seals in a second statement of the same transaction.
      await this.#database.db.transaction(async (tx) => {
        await sealEvents(
          tx,
          rowsOf<ChainedEvent>(await tx.execute(insertBatch(`[${batch.join(',')}]`))),
        );
      });
    } catch (error) {
      // Logged by the scheduler (or by `close`), once until writes recover.
      this.#failingSince ??= new Date();
      throw error;
    }
    this.#queue.splice(0, batch.length);
    this.#failingSince = null;
    while (this.#waiters.length > 0 && this.#queue.length < this.#capacity) {
      const waiter = this.#waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.#queue.push(waiter.row);
      waiter.resolve();
    }
  }
}

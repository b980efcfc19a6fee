import { invariant } from 'keyholder-directive/errors.js';
import type { Database } from '../db/client.js';
import { retryDelayMs } from '../modules/webhooks/retry-delay.js';

/** What a run tells the scheduler: when to run next. */
export type RunResult =
  /** Run again after this many ms (kept within `minGapMs` and `intervalMs`). */
  | number
  /** Another instance holds the job's lock (single-flight): run again after `busyRetryMs`. */
  | 'busy'
  /** Nothing to say: run again after `intervalMs` (or when woken). */
  | undefined;

/** The handle a run receives: to ask for another run, and to notice the scheduler stopping. */
export interface JobHandle {
  /** Asks for a run within `inMs` (see `Job.wake`). */
  wake(inMs?: number): void;
  /** Aborted when the scheduler stops: a run in progress should wind down. */
  readonly signal: AbortSignal;
}

/** One background job. Every field but `name` and `run` has a default. */
export interface JobDefinition {
  /** Names the job in logs and status. */
  readonly name: string;
  /**
   * One run. Resolves to when to run next (`RunResult`). A rejection is logged (once until the job
   * recovers) and retried with backoff; it never reaches a request.
   */
  run(job: JobHandle): Promise<RunResult>;
  /**
   * The longest pause between two runs, in case a wake-up was missed; `null` runs only when
   * woken (and after failures). @default 60000
   */
  readonly intervalMs?: number | null;
  /** The shortest pause between two runs a run asks for. @default 0 */
  readonly minGapMs?: number;
  /** When the first run happens after `start`. @default 0 */
  readonly firstRunMs?: number | null;
  /** How soon to look again when a run answered `busy`. @default 1000 */
  readonly busyRetryMs?: number;
  /** The delay after the first failure, doubled by each further one (with jitter). @default 1000 */
  readonly retryBaseMs?: number;
  /** The longest delay between two attempts while failing. @default 30000 */
  readonly retryMaxMs?: number;
  /**
   * A `LISTEN` channel whose notifications wake the job, on every instance sharing the database
   * (in-process on PGlite); `delayOf` turns a payload into ms from now (`null`: ignore it).
   * @default wakes at once
   */
  readonly wakeOn?: {
    readonly channel: string;
    readonly delayOf?: (payload: string) => number | null;
  };
  /** What a failure is logged as. @default `The background job "<name>" failed` */
  readonly failure?: string;
  /** What the first success after failures is logged as. @default `The background job "<name>" recovered` */
  readonly recovery?: string;
  /** Told the `Job` the scheduler made of this definition (for its status and wake-ups). */
  attached?(job: Job): void;
}

/** What `/healthz` and tests see of one job. */
export interface JobStatus {
  readonly name: string;
  /** Runs finished since start, failed or not. */
  readonly runs: number;
  /** When the last successful run finished, or `null`. */
  readonly lastRunAt: Date | null;
  /** When the next run is due (sooner if woken), or `null` while running or stopped. */
  readonly nextRunAt: Date | null;
  /** When runs started failing, or `null` while they succeed. */
  readonly failingSince: Date | null;
}

type Log = (message: string, error?: unknown) => void;

/** One job under the scheduler: a timer, wake-ups, backoff, one run at a time. */
export class Job {
  readonly #definition: JobDefinition;
  readonly #log: Log;
  readonly #handle: JobHandle;
  readonly #stopping: AbortController;
  #timer: NodeJS.Timeout | null = null;
  #dueAt = 0;
  #running: Promise<void> | null = null;
  /** The earliest run asked for while a run was in progress. */
  #wantedAt = Number.POSITIVE_INFINITY;
  /** No run before this instant: the backoff after a failure. */
  #notBefore = 0;
  #failures = 0;
  #failingSince: Date | null = null;
  #runs = 0;
  #lastRunAt: Date | null = null;

  constructor(definition: JobDefinition, log: Log, stopping: AbortController) {
    this.#definition = definition;
    this.#log = log;
    this.#stopping = stopping;
    this.#handle = { wake: (inMs) => this.wake(inMs), signal: stopping.signal };
  }

  get name(): string {
    return this.#definition.name;
  }

  get definition(): JobDefinition {
    return this.#definition;
  }

  /**
   * Asks for a run within `inMs` (default: at once): an earlier run replaces a later one, never
   * the reverse; during a run it is remembered for when the run ends; while failing, not before
   * the backoff has passed.
   */
  wake(inMs = 0): void {
    if (this.#stopping.signal.aborted) return;
    const dueAt = Math.max(Date.now() + Math.max(0, inMs), this.#notBefore);
    if (this.#running !== null) {
      this.#wantedAt = Math.min(this.#wantedAt, dueAt);
      return;
    }
    if (this.#timer !== null && this.#dueAt <= dueAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#start();
    }, dueAt - Date.now());
    this.#timer.unref();
  }

  /** Runs the job now (after a run in progress) and resolves when that run has finished. */
  async runOnce(): Promise<void> {
    while (this.#running !== null) await this.#running;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#start();
    await this.#running;
  }

  status(): JobStatus {
    return {
      name: this.name,
      runs: this.#runs,
      lastRunAt: this.#lastRunAt,
      nextRunAt: this.#timer === null ? null : new Date(this.#dueAt),
      failingSince: this.#failingSince,
    };
  }

  /** Stops timers; resolves once a run in progress has finished. */
  async stopped(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #start(): void {
    const run = this.#runSafely().then((next) => {
      this.#running = null;
      const wanted = this.#wantedAt - Date.now();
      this.#wantedAt = Number.POSITIVE_INFINITY;
      const after = Math.min(next, wanted);
      if (Number.isFinite(after)) this.wake(after);
    });
    this.#running = run;
  }

  /** One run; resolves to the pause before the next (`Infinity`: only when woken). */
  async #runSafely(): Promise<number> {
    const d = this.#definition;
    const interval = d.intervalMs === undefined ? 60_000 : (d.intervalMs ?? Infinity);
    try {
      const result = await d.run(this.#handle);
      this.#runs += 1;
      this.#lastRunAt = new Date();
      this.#recovered();
      if (result === 'busy') return d.busyRetryMs ?? 1000;
      if (result === undefined) return interval;
      return Math.min(interval, Math.max(d.minGapMs ?? 0, result));
    } catch (error) {
      this.#runs += 1;
      this.#failures += 1;
      this.#failingSince ??= new Date();
      const delay = retryDelayMs(this.#failures, {
        retryBaseMs: d.retryBaseMs ?? 1000,
        retryMaxMs: d.retryMaxMs ?? 30_000,
      });
      this.#notBefore = Date.now() + delay;
      // Once until it recovers: a database down for an hour is one line, then one "recovered".
      if (this.#failures === 1) {
        this.#log(
          `${d.failure ?? `The background job "${d.name}" failed`}; trying again in ${delay} ms, with backoff`,
          error,
        );
      }
      return delay;
    }
  }

  #recovered(): void {
    if (this.#failingSince !== null) {
      this.#log(
        `${this.#definition.recovery ?? `The background job "${this.name}" recovered`} after failing since ${this.#failingSince.toISOString()}`,
      );
    }
    this.#failures = 0;
    this.#failingSince = null;
    this.#notBefore = 0;
  }
}

/**
 * The one scheduler of every background job (expiry, reaping, reviews, webhooks, usage writes):
 * each job runs on a timer, is woken by `NOTIFY` on its channel or by `wake`, backs off while it
 * fails, runs one at a time in this process (single-flight across instances is the job's lock:
 * it answers `busy`), and `stop` waits for runs in progress. Jobs added after `start` start at
 * once.
 */
export class Scheduler {
  readonly #database: Database;
  readonly #log: Log;
  readonly #jobs: Job[] = [];
  readonly #stopping = new AbortController();
  readonly #unlisten: (() => Promise<void>)[] = [];
  #started = false;

  constructor(database: Database, log: Log) {
    this.#database = database;
    this.#log = log;
  }

  /** Adds a job (started with the scheduler, or at once when it already runs). */
  add(definition: JobDefinition): Job {
    invariant(
      !this.#jobs.some((job) => job.name === definition.name),
      `one job is named ${definition.name}`,
    );
    const job = new Job(definition, this.#log, this.#stopping);
    this.#jobs.push(job);
    definition.attached?.(job);
    if (this.#started) this.#begin(job);
    return job;
  }

  /** The job named `name` (for tests and status). */
  job(name: string): Job | undefined {
    return this.#jobs.find((job) => job.name === name);
  }

  /** Listens on every job's channel, then schedules each job's first run. */
  async start(): Promise<void> {
    invariant(!this.#started, 'the scheduler starts once');
    for (const job of this.#jobs) await this.#listen(job);
    this.#started = true;
    for (const job of this.#jobs) this.#first(job);
  }

  #begin(job: Job): void {
    this.#listen(job).then(
      () => this.#first(job),
      (error) => this.#log(`Could not start the background job "${job.name}"`, error),
    );
  }

  async #listen(job: Job): Promise<void> {
    const wakeOn = job.definition.wakeOn;
    if (wakeOn === undefined) return;
    this.#unlisten.push(
      await this.#database.listen(wakeOn.channel, (payload) => {
        const delay = wakeOn.delayOf === undefined ? 0 : wakeOn.delayOf(payload);
        if (delay !== null) job.wake(delay);
      }),
    );
  }

  #first(job: Job): void {
    const first = job.definition.firstRunMs === undefined ? 0 : job.definition.firstRunMs;
    if (first !== null) job.wake(first);
  }

  status(): JobStatus[] {
    return this.#jobs.map((job) => job.status());
  }

  /** Stops every job and listener; resolves once the runs in progress have finished. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    for (const unlisten of this.#unlisten.splice(0)) {
      await unlisten().catch((error) => this.#log('Could not stop listening', error));
    }
    await Promise.all(this.#jobs.map((job) => job.stopped()));
  }
}

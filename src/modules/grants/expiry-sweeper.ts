import type { Database } from '../../db/client.js';
import { retryDelayMs } from '../webhooks/retry-delay.js';

/** How the sweeper paces itself. Every field has a default (`DEFAULT_EXPIRY_SWEEP`). */
export interface ExpirySweeperOptions {
  /**
   * Grants recorded per transaction. A larger backlog (after downtime) is recorded in several
   * transactions, back to back, oldest expiry first. @default 500
   */
  readonly batchSize: number;
  /**
   * The longest wait between two looks at the next due expiry, in case a wake-up was missed (the
   * LISTEN connection was re-established while a grant was created). One indexed statement per
   * look. @default 60000
   */
  readonly idlePollMs: number;
  /**
   * The shortest pause between two looks: expiries closer together than this are recorded
   * together, the later ones up to this late. @default 50
   */
  readonly minGapMs: number;
  /**
   * How soon to look again when another instance held the sweep lock (so that, if it died
   * mid-sweep, this one takes over). @default 1000
   */
  readonly busyRetryMs: number;
  /** The delay after the first failed look or sweep, doubled by each further one. @default 1000 */
  readonly retryBaseMs: number;
  /** The longest delay between two attempts while failing. @default 30000 */
  readonly retryMaxMs: number;
}

export const DEFAULT_EXPIRY_SWEEP: ExpirySweeperOptions = {
  batchSize: 500,
  idlePollMs: 60_000,
  minGapMs: 50,
  busyRetryMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 30_000,
};

/** What `/healthz` and the operator see of the sweeper. */
export interface ExpirySweeperStatus {
  /** `grant.expired` events this process has written since it started. */
  readonly recorded: number;
  /** When this process last swept (held the lock, recorded what was due, if anything), or `null`. */
  readonly lastSweepAt: Date | null;
  /** When it will look next (sooner if woken), or `null` while looking or stopped. */
  readonly nextLookAt: Date | null;
  /** When looks or sweeps started failing, or `null` while they succeed. */
  readonly failingSince: Date | null;
}

/** Notified by a trigger on `grants` with how many ms from now the earliest new expiry falls due. */
const CHANNEL = 'keyholder_expiry';
/** Transaction-level advisory lock: one sweep at a time across every instance. */
const SWEEP_LOCK = 7_291_012;
/** The audit chain's lock, taken by its insert trigger (drizzle/0001_audit_chain.sql). */
const AUDIT_CHAIN_LOCK = 7_291_006;
/** `expires_at` as JavaScript's `toISOString()` prints it (the column keeps milliseconds). */
const ISO_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

// One look, one statement, so one transaction, committed by the server with no round trip in it:
// - take the sweep lock, or do nothing (another instance is sweeping);
// - only when something is due, take the audit chain's lock (the one its insert trigger takes)
//   before any grant row, and skip rows another transaction holds: the sweep never waits for a row,
//   so it can never be part of a deadlock, and a revocation in progress decides that grant;
// - mark up to $1 due grants, oldest expiry first, where still unrevoked and unrecorded, and write
//   their grant.expired events in expiry order (details as grant.revoked's `before`, plus `scopes`
//   for search and webhooks by scope);
// - say in how many ms (database clock) the earliest expiry left falls due: negative when a due
//   row was skipped, null when none. Every grant read uses the partial index grants_expiry_due_idx.
const SWEEP_SQL = `
with lock as materialized (
  select pg_try_advisory_xact_lock(${SWEEP_LOCK}) as held
), chain as materialized (
  select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}) from lock
  where held and exists (
    select 1 from grants
    where expires_at <= now() and revoked_at is null and expiry_recorded_at is null)
), due as (
  select id from grants
  where exists (select 1 from chain)
    and expires_at <= now() and revoked_at is null and expiry_recorded_at is null
  order by expires_at
  limit $1
  for update skip locked
), marked as (
  update grants g set expiry_recorded_at = now()
  from due
  where g.id = due.id and g.revoked_at is null and g.expiry_recorded_at is null
  returning g.id, g.identity_id, g.scope, g.resource, g.expires_at
), written as (
  insert into audit_events (action, actor_id, subject_id, details)
  select 'grant.expired', null, m.id::text, jsonb_build_object(
    'before', jsonb_build_object(
      'identityId', m.identity_id,
      'scope', m.scope,
      'resource', m.resource,
      'expiresAt', to_char(m.expires_at at time zone 'UTC', ${ISO_FORMAT})
    ),
    'reason', 'The grant expired at ' || to_char(m.expires_at at time zone 'UTC', ${ISO_FORMAT}) || '.',
    'lateMs', greatest(0, round(extract(epoch from (clock_timestamp() - m.expires_at)) * 1000))::bigint,
    'scopes', jsonb_build_array(m.scope)
  )
  from marked m
  order by m.expires_at, m.id
  returning 1
)
select (select held from lock) as held,
       (select count(*) from written)::int as recorded,
       (select (extract(epoch from (min(expires_at) - now())) * 1000)::float8
        from grants
        where expires_at is not null and revoked_at is null and expiry_recorded_at is null
          and id not in (select id from marked)
       ) as next_due_in_ms`;

/**
 * Writes one `grant.expired` audit event per grant that reaches its expiry unrevoked, within about
 * `minGapMs` of it. Decisions never wait for it: a grant authorizes nothing from `expiresAt` on,
 * whatever the sweeper does. The sweeper is the record.
 * - Each instance runs one; a sweep is a transaction that first takes
 *   `pg_try_advisory_xact_lock`, so one instance sweeps at a time and the lock goes with the
 *   transaction (committed, rolled back, or its connection lost). An instance that finds the lock
 *   taken looks again after `busyRetryMs`.
 * - A sweep marks due grants (`expiry_recorded_at`, only where it is still null and the grant is
 *   unrevoked) and writes their events in one statement, in that transaction: each grant is
 *   recorded exactly once even if two sweeps ever overlapped, and a revoked grant never is. It
 *   takes the audit chain's lock before any grant row and skips rows others hold (looking again
 *   after `minGapMs`), so it never waits in a cycle with a change transaction.
 * - It sleeps until the next due expiry (read by the same statement, an indexed `min()`), woken
 *   earlier by the `keyholder_expiry` notification that a new grant's commit sends to every
 *   instance, and looks at least every `idlePollMs` in case a notification was missed.
 * - On start it catches up: everything that fell due while no instance ran, in batches of
 *   `batchSize`, each grant once (`details.lateMs` says how late).
 * - Failures are logged and retried with backoff; they never reach a request.
 */
export class ExpirySweeper {
  readonly #options: ExpirySweeperOptions;
  #timer: NodeJS.Timeout | null = null;
  #dueAt = 0;
  #ticking: Promise<void> | null = null;
  /** The earliest look asked for while a tick ran. */
  #wantedAt = Number.POSITIVE_INFINITY;
  #stopped = false;
  #unlisten: (() => Promise<void>) | null = null;
  #failures = 0;
  #failingSince: Date | null = null;
  #recorded = 0;
  #lastSweepAt: Date | null = null;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
    options: Partial<ExpirySweeperOptions> = {},
  ) {
    this.#options = { ...DEFAULT_EXPIRY_SWEEP, ...options };
  }

  /** Listens for new expiries, then catches up in the background (start never waits for it). */
  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(CHANNEL, (payload) => {
      const dueInMs = Number(payload);
      if (Number.isFinite(dueInMs)) this.#schedule(Math.max(0, dueInMs));
    });
    this.#schedule(0);
  }

  /** Stops looking and waits for a sweep in progress to commit or roll back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#unlisten?.().catch((error) =>
      this.log('Could not stop listening for grant expiries', error),
    );
    await this.#ticking;
  }

  status(): ExpirySweeperStatus {
    return {
      recorded: this.#recorded,
      lastSweepAt: this.#lastSweepAt,
      nextLookAt: this.#timer === null ? null : new Date(this.#dueAt),
      failingSince: this.#failingSince,
    };
  }

  /** Looks after `ms` at the latest: an earlier look replaces a later one, never the reverse. */
  #schedule(ms: number): void {
    if (this.#stopped) return;
    const dueAt = Date.now() + ms;
    if (this.#ticking !== null) {
      this.#wantedAt = Math.min(this.#wantedAt, dueAt);
      return;
    }
    if (this.#timer !== null && this.#dueAt <= dueAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#ticking = this.#tick().then((next) => {
        this.#ticking = null;
        const wanted = this.#wantedAt - Date.now();
        this.#wantedAt = Number.POSITIVE_INFINITY;
        this.#schedule(Math.max(0, Math.min(next, wanted)));
      });
    }, ms);
    this.#timer.unref();
  }

  /** One look (a sweep of whatever is due); resolves to the pause before the next. */
  async #tick(): Promise<number> {
    const { idlePollMs, busyRetryMs, minGapMs, batchSize } = this.#options;
    try {
      const [row] = await this.database.query<{
        held: boolean;
        recorded: number;
        next_due_in_ms: number | null;
      }>(SWEEP_SQL, [batchSize]);
      this.#recovered();
      if (row?.held !== true) return busyRetryMs;
      const recorded = Number(row.recorded);
      this.#recorded += recorded;
      this.#lastSweepAt = new Date();
      if (recorded === batchSize) return 0;
      if (row.next_due_in_ms === null) return idlePollMs;
      return Math.min(idlePollMs, Math.max(minGapMs, Math.ceil(Number(row.next_due_in_ms))));
    } catch (error) {
      return this.#failed(error);
    }
  }

  #failed(error: unknown): number {
    this.#failures += 1;
    this.#failingSince ??= new Date();
    const delay = retryDelayMs(this.#failures, this.#options);
    this.log(
      `Could not record grant expiries (attempt ${this.#failures}); trying again in ${delay} ms`,
      error,
    );
    return delay;
  }

  #recovered(): void {
    if (this.#failingSince !== null) {
      this.log(
        `Recording grant expiries recovered after failing since ${this.#failingSince.toISOString()}`,
      );
    }
    this.#failures = 0;
    this.#failingSince = null;
  }
}

import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { Job, JobDefinition, RunResult } from '../../workers/scheduler.js';
import { CHAINED_COLUMNS, type ChainedEvent, sealEvents } from '../audit/audit-chain.js';
import { dueExpirySql, unrecordedExpirySql } from './live-grants.js';

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
//   for search and webhooks by scope: a role's scopes for a grant of a role);
// - say in how many ms (database clock) the earliest expiry left falls due: negative when a due
//   row was skipped, null when none. Every grant read uses the partial index grants_expiry_due_idx.
const SWEEP_SQL = `
with lock as materialized (
  select pg_try_advisory_xact_lock(${SWEEP_LOCK}) as held
), chain as materialized (
  select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}) from lock
  where held and exists (
    select 1 from grants
    where ${dueExpirySql()})
), due as (
  select id from grants
  where exists (select 1 from chain)
    and ${dueExpirySql()}
  order by expires_at
  limit $1
  for update skip locked
), marked as (
  update grants g set expiry_recorded_at = now()
  from due
  where g.id = due.id and ${unrecordedExpirySql('g')}
  returning g.id, g.identity_id, g.group_id, g.scope, g.role, g.resource, g.expires_at
), written as (
  insert into audit_events as e (action, actor_id, subject_id, details)
  select 'grant.expired', null, m.id::text, jsonb_build_object(
    'before', jsonb_build_object(
      'resource', m.resource,
      'expiresAt', to_char(m.expires_at at time zone 'UTC', ${ISO_FORMAT})
    )
    || case when m.group_id is null then jsonb_build_object('identityId', m.identity_id)
            else jsonb_build_object('groupId', m.group_id) end
    || case when m.role is null then jsonb_build_object('scope', m.scope)
            else jsonb_build_object('role', m.role) end,
    'reason', 'The grant expired at ' || to_char(m.expires_at at time zone 'UTC', ${ISO_FORMAT}) || '.',
    'lateMs', greatest(0, round(extract(epoch from (clock_timestamp() - m.expires_at)) * 1000))::bigint,
    'scopes', case when m.role is null then jsonb_build_array(m.scope)
                   else coalesce((select jsonb_agg(distinct rs.scope) from role_scopes rs
                                  where rs.role = m.role), '[]'::jsonb) end
  )
  from marked m
  order by m.expires_at, m.id
  returning ${CHAINED_COLUMNS}
)
select (select held from lock) as held,
       (select count(*) from written)::int as recorded,
       (select coalesce(json_agg(w order by w.seq::bigint), '[]'::json)::text from written w) as events,
       (select (extract(epoch from (min(expires_at) - now())) * 1000)::float8
        from grants
        where ${unrecordedExpirySql()}
          and id not in (select id from marked)
       ) as next_due_in_ms`;

/**
 * Writes one `grant.expired` audit event per grant that reaches its expiry unrevoked, within about
 * `minGapMs` of it. Decisions never wait for it: a grant authorizes nothing from `expiresAt` on,
 * whatever the sweeper does. The sweeper is the record. It runs as a job of the scheduler
 * (`job()`):
 * - a sweep is one statement, hence one transaction, that first takes `pg_try_advisory_xact_lock`,
 *   so one instance sweeps at a time and the lock goes with the transaction (committed, rolled
 *   back, or its connection lost). An instance that finds the lock taken looks again after
 *   `busyRetryMs`.
 * - A sweep marks due grants (`expiry_recorded_at`, only where it is still null and the grant is
 *   unrevoked) and writes their events in that statement: each grant is recorded exactly once even
 *   if two sweeps ever overlapped, and a revoked grant never is. It takes the audit chain's lock
 *   before any grant row and skips rows others hold (looking again after `minGapMs`), so it never
 *   waits in a cycle with a change transaction.
 * - It sleeps until the next due expiry (read by the same statement, an indexed `min()`), woken
 *   earlier by the `keyholder_expiry` notification that a new grant's commit sends to every
 *   instance, and looks at least every `idlePollMs` in case a notification was missed.
 * - On start it catches up: everything that fell due while no instance ran, in batches of
 *   `batchSize`, each grant once (`details.lateMs` says how late).
 * - Failures are logged and retried with backoff; they never reach a request.
 */
export class ExpirySweeper {
  readonly #options: ExpirySweeperOptions;
  readonly #database: Database;
  #job: Job | null = null;
  #recorded = 0;
  #lastSweepAt: Date | null = null;

  constructor(database: Database, options: Partial<ExpirySweeperOptions> = {}) {
    this.#database = database;
    this.#options = { ...DEFAULT_EXPIRY_SWEEP, ...options };
  }

  /** The sweeper as a job of the scheduler. */
  job(): JobDefinition {
    const { idlePollMs, busyRetryMs, retryBaseMs, retryMaxMs } = this.#options;
    return {
      name: 'expiry-sweeper',
      run: () => this.sweep(),
      intervalMs: idlePollMs,
      busyRetryMs,
      retryBaseMs,
      retryMaxMs,
      wakeOn: {
        channel: CHANNEL,
        delayOf: (payload) => {
          const dueInMs = Number(payload);
          return Number.isFinite(dueInMs) ? Math.max(0, dueInMs) : null;
        },
      },
      failure: 'Could not record grant expiries',
      recovery: 'Recording grant expiries recovered',
      attached: (job) => {
        this.#job = job;
      },
    };
  }

  status(): ExpirySweeperStatus {
    const job = this.#job?.status();
    return {
      recorded: this.#recorded,
      lastSweepAt: this.#lastSweepAt,
      nextLookAt: job?.nextRunAt ?? null,
      failingSince: job?.failingSince ?? null,
    };
  }

  /** One look (a sweep of whatever is due): when to look next, or `busy`. */
  async sweep(): Promise<RunResult> {
    const { batchSize, minGapMs } = this.#options;
    // The statement and the seals of the events it wrote, in one transaction.
    const row = await this.#database.db.transaction(async (tx) => {
      const [swept] = rowsOf<{
        held: boolean;
        recorded: number;
        events: string | null;
        next_due_in_ms: number | null;
      }>(await tx.execute(sql`${sql.raw(SWEEP_SQL.replace('$1', String(Math.trunc(batchSize))))}`));
      await sealEvents(tx, JSON.parse(swept?.events ?? '[]') as ChainedEvent[]);
      return swept;
    });
    if (row?.held !== true) return 'busy';
    const recorded = Number(row.recorded);
    this.#recorded += recorded;
    this.#lastSweepAt = new Date();
    if (recorded === batchSize) return 0;
    if (row.next_due_in_ms === null) return undefined;
    return Math.max(minGapMs, Math.ceil(Number(row.next_due_in_ms)));
  }
}

import { badUserInput } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import type { JobDefinition } from '../../workers/scheduler.js';
import { liveGrantSql, liveMembershipSql } from '../grants/live-grants.js';
import { CHAINED_COLUMNS, type ChainedEvent, CREATING_ACTIONS, chainHash } from './audit-chain.js';
import {
  AuditCheckpoints,
  CheckpointError,
  type CheckpointFile,
  openCheckpoint,
  type SignedCheckpoint,
} from './audit-checkpoints.js';
import { AUDIT_CHANNEL } from './audit-feed.js';
import type { AuditKeys } from './audit-keys.js';
import {
  type AuditProblem,
  type ChainBreak,
  type ChainPoint,
  GENESIS,
  walkChain,
} from './chain-walk.js';

/** A live row with no audit event behind it (reconciliation): it authorizes nothing. */
export interface UnrecordedRow {
  readonly table: string;
  readonly id: string;
}

/** The outcome of a verification (`verifyAuditLog`, the full re-verification's result). */
export interface AuditVerification {
  readonly ok: boolean;
  /** Entries vouched for up to the first broken one: walked now, or verified earlier. */
  readonly checked: number;
  /** Entries re-hashed by this verification (after `verifiedFrom`). */
  readonly walked: number;
  readonly firstBrokenId: string | null;
  readonly reason: string | null;
  readonly lastSeq: string | null;
  readonly lastHash: string | null;
  readonly problem: AuditProblem | null;
  readonly mode: 'INCREMENTAL' | 'FULL';
  /** The seq the walk started after (0: the whole chain). */
  readonly verifiedFrom: string;
  /** The newest signed checkpoint the chain was checked against. */
  readonly checkpoint: SignedCheckpoint | null;
  /** How many events a checkpoint or the chain itself vouches for that are gone. */
  readonly missingEvents: number;
  readonly missingFromSeq: string | null;
  readonly missingToSeq: string | null;
  readonly unrecorded: readonly UnrecordedRow[];
}

/** A full re-verification running in the background, and then its result. */
export interface AuditVerificationRun {
  readonly id: string;
  readonly status: 'RUNNING' | 'DONE' | 'FAILED';
  readonly checked: number;
  /** Events in the chain when the run started. */
  readonly total: number;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly result: AuditVerification | null;
  readonly error: string | null;
}

/** One entry of `auditChain`. */
export type ChainEntry = ChainedEvent &
  Record<string, unknown> & {
    readonly id: string;
    readonly sealKeyId: string | null;
    readonly seal: string | null;
  };

/** Checkpoint settings (`Config.audit`). */
export interface CheckpointSettings {
  /** Sign once this many events follow the last checkpoint. @default 1000 */
  readonly events: number;
  /** …or once this many seconds have passed since it, with events after it. @default 60 */
  readonly seconds: number;
  /** The outside sink's directory, or `null`. */
  readonly dir: string | null;
}

const MAX_UNRECORDED = 100;

/** How long after audit events the checkpoint job looks (events arriving meanwhile coalesce). */
const CHECKPOINT_WAKE_MS = 5000;

/** Live rows per table, as SQL over the table aliased `r`. */
const LIVE_ROWS: Readonly<Record<string, string>> = {
  identities: `r.status = 'ACTIVE'`,
  api_keys: `r.revoked_at is null and (r.expires_at is null or r.expires_at > now())`,
  grants: liveGrantSql('r').replace(' and r.audit_seq is not null', ''),
  group_members: liveMembershipSql('r').replace(' and r.audit_seq is not null', ''),
};

// Both ends of the log, from its seq index (two index probes, whatever its size).
const HEAD_SQL = `select coalesce(max(seq), 0)::text as max, coalesce(min(seq), 0)::text as min
  from audit_events`;

const AT_SEQ_SQL = `select e.id::text as id, ${CHAINED_COLUMNS}, s.key_id as "keyId", s.mac
  from audit_events e left join audit_seals s on s.seq = e.seq where e.seq = any($1::bigint[])`;

interface Outcome {
  readonly checked: number;
  readonly reached: ChainPoint;
  readonly broken: ChainBreak | null;
}

/**
 * Verifies the audit log without trusting the database (docs/concepts/audit.md):
 * - incrementally (`verify`): from the last point this process verified, or the newest signed
 *   checkpoint, only what came after, in bounded batches; plus whole-log counts that catch a
 *   truncated head or a deletion anywhere, the event at the starting point still having its
 *   hash, the newest checkpoint (here or in the sink) not being past the head, and live rows
 *   with no event behind them;
 * - fully (`startFull`): the whole chain in the background, with progress, every checkpoint
 *   met, and every live row matched to the event that created it;
 * - and it signs checkpoints (`job`) only over a chain it has just verified.
 */
export class AuditVerifier {
  readonly checkpoints: AuditCheckpoints;
  #verified: ChainPoint | null = null;
  /** The highest seq this process ever verified: a log that goes back below it lost its tail. */
  #highest: number | null = null;
  #run: AuditVerificationRun | null = null;
  #running: Promise<void> | null = null;
  #runs = 0;
  #settings: CheckpointSettings = { events: 1000, seconds: 60, dir: null };
  readonly #startedAt = Date.now();

  constructor(
    private readonly database: Database,
    private readonly keys: () => AuditKeys,
  ) {
    this.checkpoints = new AuditCheckpoints(database, keys, null);
  }

  /** Sets how often checkpoints are signed and where they are also written. */
  configure(settings: CheckpointSettings): void {
    this.#settings = settings;
    (this as { checkpoints: AuditCheckpoints }).checkpoints = new AuditCheckpoints(
      this.database,
      this.keys,
      settings.dir,
    );
  }

  /**
   * The incremental verification `verifyAuditLog` answers. `given` are checkpoints a caller holds
   * (a sink's files, through `keyholder audit verify --checkpoints DIR`): each must verify with
   * Keyholder's signing keys, and the chain must still have each one's hash at its seq.
   */
  async verify(given: readonly CheckpointFile[] = []): Promise<AuditVerification> {
    const keys = this.keys();
    const extra: SignedCheckpoint[] = [];
    for (const [index, file] of given.entries()) {
      try {
        extra.push(openCheckpoint(keys, file));
      } catch (error) {
        if (!(error instanceof CheckpointError || error instanceof SyntaxError)) throw error;
        throw badUserInput(`Checkpoint ${index + 1} cannot be trusted: ${error.message}`, {
          field: 'checkpoints',
        });
      }
    }
    const [head] = await this.database.query<{ max: string; min: string }>(HEAD_SQL);
    const max = Number(head?.max ?? 0);
    const min = Number(head?.min ?? 0);
    const { checkpoints: newestStored, forged } = await this.checkpoints.stored(
      0,
      Number.MAX_SAFE_INTEGER,
      1,
    );
    const newest = [...newestStored, ...extra, this.checkpoints.newestSeen()]
      .filter((c): c is SignedCheckpoint => c !== null)
      .reduce<SignedCheckpoint | null>((a, b) => (a === null || b.seq > a.seq ? b : a), null);
    if (forged !== null) {
      return this.#result(
        'INCREMENTAL',
        0,
        {
          checked: 0,
          reached: GENESIS,
          broken: {
            problem: 'CHECKPOINT',
            eventId: null,
            reason: `The stored checkpoint at seq ${forged} does not verify with Keyholder's signing keys: it was forged.`,
          },
        },
        newest,
      );
    }
    // Where to start: this process's last verified point, else the newest stored checkpoint
    // at or below the head, else the genesis.
    let base: ChainPoint = GENESIS;
    if (this.#verified !== null && this.#verified.seq <= max) base = this.#verified;
    else {
      const { checkpoints: below } = await this.checkpoints.stored(0, max, 1);
      const [start] = below;
      if (start !== undefined) base = { seq: start.seq, hash: start.hash };
    }
    const known = new Map<number, string>();
    for (const c of [...extra, ...(newest === null ? [] : [newest])]) known.set(c.seq, c.hash);
    if (base.seq > 0) known.set(base.seq, base.hash);
    // Points at or below the base are looked up directly (one statement), and the log must still
    // start at seq 1. Either anomaly is then located by a full walk: slow at a million entries,
    // but only ever on a log that was tampered with. (A deletion in the middle of what was
    // verified before, leaving the points intact, is the full re-verification's to find.)
    const before = [...known.entries()].filter(([seq]) => seq <= base.seq);
    const anomaly =
      (await this.#checkPoints(before)) ??
      (max > 0 && min !== 1
        ? {
            problem: 'TRUNCATED_HEAD' as const,
            eventId: null,
            reason: `The audit log starts at seq ${min}: the ${min - 1} oldest entries were removed.`,
            missing: { from: 1, to: min - 1 },
          }
        : null);
    if (anomaly !== null) {
      this.#verified = null;
      const walked = this.#againstNewest(
        await walkChain(this.database, keys, GENESIS, { expected: known }),
        newest,
      );
      return this.#result(
        'INCREMENTAL',
        0,
        walked.broken === null ? { ...walked, broken: anomaly } : walked,
        newest,
      );
    }
    const after = new Map([...known.entries()].filter(([seq]) => seq > base.seq));
    const walked = await walkChain(this.database, keys, base, { expected: after, untilSeq: max });
    const outcome = this.#againstNewest(walked, newest);
    if (outcome.broken === null) {
      this.#verified = outcome.reached;
      this.#highest = Math.max(this.#highest ?? 0, outcome.reached.seq);
      if (newest !== null) this.checkpoints.noteSeen(newest);
    }
    return this.#result('INCREMENTAL', base.seq, outcome, newest, await this.#unrecorded(false));
  }

  /** The chain in order after `afterSeq`, with seals: what an export needs (`auditChain`). */
  async chain(afterSeq: number, first: number): Promise<ChainEntry[]> {
    return this.database.query<ChainEntry>(
      `select e.id::text as id, ${CHAINED_COLUMNS}, s.key_id as "sealKeyId", s.mac as seal
       from audit_events e left join audit_seals s on s.seq = e.seq
       where e.seq > $1 order by e.seq, e.id limit $2`,
      [afterSeq, first],
    );
  }

  /** The stored checkpoints, newest first (`auditCheckpoints`), each verified. */
  async storedCheckpoints(first: number): Promise<SignedCheckpoint[]> {
    return (await this.checkpoints.stored(0, Number.MAX_SAFE_INTEGER, first)).checkpoints;
  }

  /** The full re-verification, if one ran or runs in this process. */
  run(): AuditVerificationRun | null {
    return this.#run;
  }

  /**
   * Starts a full re-verification in the background (or answers the one running): the whole
   * chain from the genesis, every stored checkpoint (and the sink's) met, every live row matched
   * to the event that created it. Progress is `run().checked` of `run().total`.
   */
  async startFull(): Promise<AuditVerificationRun> {
    if (this.#run?.status === 'RUNNING') return this.#run;
    const [head] = await this.database.query<{ max: string }>(HEAD_SQL);
    this.#runs += 1;
    const started: AuditVerificationRun = {
      id: String(this.#runs),
      status: 'RUNNING',
      checked: 0,
      total: Number(head?.max ?? 0),
      startedAt: new Date(),
      finishedAt: null,
      result: null,
      error: null,
    };
    this.#run = started;
    this.#running = this.#full(started);
    return started;
  }

  /** Runs a full re-verification (or joins the one running) to its end. */
  async runFull(): Promise<AuditVerificationRun> {
    await this.startFull();
    await this.#running;
    return this.#run as AuditVerificationRun;
  }

  /**
   * The periodic full re-verification, every `intervalMs`: what finds a deletion in the middle of
   * history already verified. A log that does not verify fails the job (logged, and again at each
   * retry until it verifies), like any background job's failure.
   */
  fullJob(intervalMs: number): JobDefinition {
    return {
      name: 'audit-full-verification',
      intervalMs,
      firstRunMs: intervalMs,
      retryBaseMs: 60_000,
      retryMaxMs: intervalMs,
      failure: 'The audit log does not verify',
      recovery: 'The audit log verifies again',
      run: async () => {
        const run = await this.runFull();
        if (run.status !== 'DONE' || run.result?.ok !== true) {
          throw new Error(
            run.result === null
              ? `The full verification failed: ${run.error}`
              : `${run.result.problem}: ${run.result.reason}`,
          );
        }
        return intervalMs;
      },
    };
  }

  /** Runs a full verification to its end (the CLI's offline path and tests). */
  async full(onProgress?: (checked: number) => void): Promise<AuditVerification> {
    const keys = this.keys();
    const { checkpoints: stored, forged } = await this.checkpoints.stored(
      0,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    );
    const sink =
      this.checkpoints.dir === null
        ? []
        : await this.checkpoints.readDir(this.checkpoints.dir).catch(() => []);
    const all = [...stored, ...sink];
    const newest = all.reduce<SignedCheckpoint | null>(
      (a, b) => (a === null || b.seq > a.seq ? b : a),
      this.checkpoints.newestSeen(),
    );
    if (forged !== null) {
      return this.#result(
        'FULL',
        0,
        {
          checked: 0,
          reached: GENESIS,
          broken: {
            problem: 'CHECKPOINT',
            eventId: null,
            reason: `The stored checkpoint at seq ${forged} does not verify with Keyholder's signing keys: it was forged.`,
          },
        },
        newest,
      );
    }
    const expected = new Map(all.map((c) => [c.seq, c.hash]));
    const walked = await walkChain(this.database, keys, GENESIS, {
      expected,
      ...(onProgress ? { onProgress } : {}),
    });
    const outcome = this.#againstNewest(walked, newest);
    if (outcome.broken === null) {
      this.#verified = outcome.reached;
      this.#highest = Math.max(this.#highest ?? 0, outcome.reached.seq);
    }
    return this.#result('FULL', 0, outcome, newest, await this.#unrecorded(true));
  }

  /**
   * The checkpoint job: when `events` events follow the newest checkpoint or `seconds` have passed
   * since it with any event after it, verifies what came after it and signs the head. It looks a
   * few seconds after audit events (woken through LISTEN, on every instance) and when the time
   * allowed since the newest checkpoint runs out, so an idle instance runs no statements between.
   * A chain that does not verify is never signed (the failure is logged, and the job retries with
   * backoff).
   */
  job(): JobDefinition {
    const periodMs = this.#settings.seconds * 1000;
    const wakeMs = Math.min(CHECKPOINT_WAKE_MS, periodMs);
    return {
      name: 'audit-checkpoint',
      intervalMs: periodMs,
      firstRunMs: wakeMs,
      minGapMs: wakeMs,
      wakeOn: { channel: AUDIT_CHANNEL, delayOf: () => wakeMs },
      failure: 'Could not sign an audit checkpoint',
      recovery: 'Audit checkpoints are signed again',
      run: async () => {
        await this.checkpointIfDue();
        // Next: when the newest checkpoint's time runs out (events may be waiting for it).
        const since = this.checkpoints.newestSeen()?.signedAt.getTime() ?? this.#startedAt;
        return Math.max(wakeMs, Math.min(periodMs, since + periodMs - Date.now()));
      },
    };
  }

  /** Signs a checkpoint now if one is due (see `job`); the checkpoint, or null. */
  async checkpointIfDue(force = false): Promise<SignedCheckpoint | null> {
    const [head] = await this.database.query<{ max: string }>(HEAD_SQL);
    const max = Number(head?.max ?? 0);
    const { checkpoints } = await this.checkpoints.stored(0, Number.MAX_SAFE_INTEGER, 1);
    const last = checkpoints[0] ?? this.checkpoints.newestSeen();
    const lastSeq = last?.seq ?? 0;
    if (max <= lastSeq) return null;
    const dueByCount = max - lastSeq >= this.#settings.events;
    const since = last?.signedAt.getTime() ?? this.#startedAt;
    const dueByTime = Date.now() - since >= this.#settings.seconds * 1000;
    if (!force && !dueByCount && !dueByTime) return null;
    const verification = await this.verify();
    if (!verification.ok) {
      throw new Error(
        `The audit log does not verify, so no checkpoint is signed: ${verification.reason}`,
      );
    }
    const reached = this.#verified;
    if (reached === null || reached.seq <= lastSeq) return null;
    return this.checkpoints.sign(reached);
  }

  async #full(run: AuditVerificationRun): Promise<void> {
    const update = (patch: Partial<AuditVerificationRun>) => {
      if (this.#run?.id === run.id)
        this.#run = { ...(this.#run as AuditVerificationRun), ...patch };
    };
    try {
      const result = await this.full((checked) => update({ checked }));
      update({ status: 'DONE', checked: result.checked, result, finishedAt: new Date() });
    } catch (error) {
      update({
        status: 'FAILED',
        error: error instanceof Error ? error.message : String(error),
        finishedAt: new Date(),
      });
    }
  }

  /**
   * A walk that ended cleanly short of the newest signed checkpoint, or of the head this process
   * verified before, lost its tail.
   */
  #againstNewest(walked: Outcome, newest: SignedCheckpoint | null): Outcome {
    if (walked.broken !== null) return walked;
    const seen = this.#highest;
    const signed = newest !== null && newest.seq > walked.reached.seq ? newest : null;
    const vouched = signed?.seq ?? (seen !== null && seen > walked.reached.seq ? seen : null);
    if (vouched === null) return walked;
    return {
      ...walked,
      broken: {
        problem: 'MISSING_TAIL',
        eventId: null,
        reason: `${signed === null ? 'This instance verified' : `The signed checkpoint of ${signed.signedAt.toISOString()} vouches for`} entries up to seq ${vouched}; the ${vouched - walked.reached.seq} after seq ${walked.reached.seq} are no longer in the audit log.`,
        missing: { from: walked.reached.seq + 1, to: vouched },
      },
    };
  }

  /** The first of `points` (seq → hash) the chain no longer has, as a break. */
  async #checkPoints(points: readonly (readonly [number, string])[]): Promise<ChainBreak | null> {
    if (points.length === 0) return null;
    const keys = this.keys();
    const rows = await this.database.query<
      ChainedEvent &
        Record<string, unknown> & { id: string; keyId: string | null; mac: string | null }
    >(AT_SEQ_SQL, [`{${points.map(([seq]) => seq).join(',')}}`]);
    const bySeq = new Map(rows.map((row) => [Number(row.seq), row]));
    for (const [seq, hash] of [...points].sort((a, b) => a[0] - b[0])) {
      const row = bySeq.get(seq);
      if (row === undefined) {
        return {
          problem: 'MISSING',
          eventId: null,
          reason: `The entry at seq ${seq}, which a signed checkpoint or an earlier verification vouches for, is gone.`,
          missing: { from: seq, to: seq },
        };
      }
      const computed = chainHash(row);
      const sealed =
        row.keyId !== null && row.mac !== null && keys.sealMatches(row.keyId, computed, row.mac);
      if (computed !== hash || !sealed) {
        return {
          problem: computed === row.hash && !sealed ? 'REHASHED' : 'EDITED',
          eventId: row.id,
          reason: `Entry ${row.id} (seq ${seq}) no longer has the hash a signed checkpoint or an earlier verification recorded: the chain was rewritten at or before it; a full verification finds where.`,
        };
      }
    }
    return null;
  }

  /**
   * Live rows with no event behind them: quick (no `audit_seq`) for incremental verification;
   * full also requires the event at `audit_seq` to be the row's creating event.
   */
  async #unrecorded(full: boolean): Promise<UnrecordedRow[]> {
    const found: UnrecordedRow[] = [];
    for (const [action, table] of Object.entries(CREATING_ACTIONS)) {
      const live = LIVE_ROWS[table] as string;
      const text = full
        ? `select r.id::text as id from ${table} r left join audit_events e on e.seq = r.audit_seq
           where ${live} and (r.audit_seq is null or e.seq is null or e.action <> '${action}'
             or e.subject_id is distinct from r.id::text)
           limit ${MAX_UNRECORDED}`
        : `select r.id::text as id from ${table} r where r.audit_seq is null and ${live}
           limit ${MAX_UNRECORDED}`;
      for (const row of await this.database.query<{ id: string }>(text)) {
        found.push({ table, id: row.id });
      }
    }
    return found.slice(0, MAX_UNRECORDED);
  }

  #result(
    mode: AuditVerification['mode'],
    from: number,
    outcome: Outcome,
    checkpoint: SignedCheckpoint | null,
    unrecorded: readonly UnrecordedRow[] = [],
  ): AuditVerification {
    const broken: ChainBreak | null =
      outcome.broken ??
      (unrecorded.length > 0
        ? {
            problem: 'UNRECORDED_ROW',
            eventId: null,
            reason: `${unrecorded.length === MAX_UNRECORDED ? 'At least ' : ''}${unrecorded.length} live rows have no audit event behind them (first: ${unrecorded[0]?.table} ${unrecorded[0]?.id}); they authorize nothing.`,
          }
        : null);
    const missing = broken?.missing;
    return {
      ok: broken === null,
      checked: outcome.reached.seq,
      walked: outcome.checked,
      firstBrokenId: broken?.eventId ?? null,
      reason: broken?.reason ?? null,
      lastSeq: broken === null && outcome.reached.seq > 0 ? String(outcome.reached.seq) : null,
      lastHash: broken === null && outcome.reached.seq > 0 ? outcome.reached.hash : null,
      problem: broken?.problem ?? null,
      mode,
      verifiedFrom: String(from),
      checkpoint,
      missingEvents: missing === undefined ? 0 : missing.to - missing.from + 1,
      missingFromSeq: missing === undefined || missing.from === 0 ? null : String(missing.from),
      missingToSeq: missing === undefined || missing.from === 0 ? null : String(missing.to),
      unrecorded,
    };
  }
}

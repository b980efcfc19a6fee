import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { GraphQLError } from 'graphql';
import { invariant } from 'keyholder-directive/errors.js';
import type { Change, Database, RevisionSource } from '../../db/client.js';
import type { Job, JobDefinition } from '../../workers/scheduler.js';
import { CHANGE_CHANNEL, ChangeJournal, parseTouched } from './change-journal.js';
import { compareRevisions, HEAD_SQL, parseRevision, type Revision } from './revision.js';

/** How long a lease lasts when `INSTANCE_LEASE_MS` is not set. */
export const DEFAULT_LEASE_MS = 2000;

/** What `/healthz` and the operator see of the feed. */
export interface RevisionFeedStatus {
  /** This process's row in `instance_leases` (`null` on PGlite: one process, no leases). */
  readonly instanceId: string | null;
  /** Answering from its caches without reading `revision_head`. */
  readonly synced: boolean;
  /** The newest revision applied. */
  readonly known: Revision;
  /** Changes that waited for other instances, and the longest wait in ms. */
  readonly waits: number;
  readonly longestWaitMs: number;
}

/** Registers (or renews) the lease; answers `revision_head` as this statement saw it. */
const RENEW_SQL = `insert into instance_leases as l (id, expires_at, applied_revision, process)
  values ($1, now() + $2 * interval '1 millisecond', $3::bigint, $4)
  on conflict (id) do update set
    expires_at = excluded.expires_at,
    applied_revision = case when $3::bigint is null then null
      else greatest(l.applied_revision, $3::bigint) end
  returning (select h.value::text from revision_head h)`;

const ACK_SQL = `update instance_leases set applied_revision = $2
  where id = $1 and applied_revision < $2`;

/** Live leases still behind `$2`, and ms until the first of them runs out. */
const BEHIND_SQL = `select count(*)::int,
    coalesce(ceil(extract(epoch from min(expires_at) - now()) * 1000), 0)::int
  from instance_leases
  where id <> $1 and expires_at > now() and applied_revision < $2`;

/** Rows of processes gone for a minute: nobody waits for them, they only clutter the table. */
const FORGET_SQL = `delete from instance_leases where expires_at < now() - interval '1 minute'`;

/** Journal rows after `$1`, oldest first, a page at a time. */
const CHANGES_SQL = `select revision::text, advanced_from::text, touched from revision_changes
  where revision > $1::bigint order by revision limit 1000`;

/** Journal rows nobody needs any more (an instance behind by ten minutes reloads anyway). */
const FORGET_CHANGES_SQL = `delete from revision_changes where committed_at < now() - interval '10 minutes'`;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How this process learns of committed changes without reading `revision_head` on every request
 * (pushed invalidation), with revocation as strict as reading it: a request that starts after a
 * change has returned is decided with that change, on every instance.
 * - Every change advances `revision_head`, and at commit writes its row to `revision_changes` (the
 *   revision, the one it advanced from, the identities it touched: `ChangeJournal`) and notifies
 *   `keyholder_change` with the revision, delivered to every instance listening. The instance
 *   applies the revision at once, reads the rows after the last it read, and only then
 *   acknowledges (below): what a change
 *   touched is never taken from a notification's text, which any role connected to the database
 *   may send (a forged revision can only make entries miss).
 * - On PostgreSQL each process holds a lease (a row of `instance_leases`, renewed every quarter
 *   of `leaseMs`) and answers from its caches (`known()` not null) only while: it listens on a
 *   connection of its own, it read `revision_head` after its lease was last (re)established, and
 *   its lease has not run out by its own clock (counted from when the renewal was sent, less a
 *   tenth for clock drift, so it stops before the database thinks the lease over).
 * - On a notification it reads and records the new changes and applies their revisions (entries
 *   older than them no longer hit, unless `untouched` carries them), then acknowledges the newest
 *   in its lease row. Each renewal also reads `revision_head`, so a process whose
 *   notifications are late acknowledges within one renewal.
 * - A change returns (`committed`) only once every other live lease has acknowledged its
 *   revision or run out; a lease whose process reads through (`applied_revision` null: its
 *   listener broke) is not waited for. So a process killed, paused or cut off delays changes by
 *   at most `leaseMs`, and serves nothing stale meanwhile; one whose notifications are late, by
 *   at most a renewal.
 * - When its listener breaks it stops answering from its caches at once, says so in its row, and
 *   listens again and re-reads `revision_head` before answering from them again.
 * - On PGlite (one process; notifications are delivered before the committing statement returns)
 *   it is in-process: no leases, nobody to wait for.
 * - Expiry needs none of this: every decision compares expiries with the clock.
 */
export class RevisionFeed implements RevisionSource {
  readonly #database: Database;
  readonly #leaseMs: number;
  readonly #log: (message: string, error?: unknown) => void;
  readonly #id = randomUUID();
  readonly #process = `${hostname()}:${process.pid}`;
  #known: Revision = '0';
  readonly #journal = new ChangeJournal();
  /** The newest `revision_changes` row read (rows before it are not read again). */
  #readChangesFrom: Revision | null = null;
  /** The reads of `revision_changes` in flight, and whether another must follow. */
  #reading: Promise<void> | null = null;
  #changesPending = false;
  #changeReads = 0;
  #synced = false;
  /** Stops the listener; `null` while not listening. */
  #unlisten: (() => Promise<void>) | null = null;
  /** `performance.now()` after which the lease may have run out. */
  #leaseUntil = 0;
  #acked: Revision = '0';
  #acking = false;
  #job: Job | null = null;
  #renewals = 0;
  #closed = false;
  #waits = 0;
  #longestWaitMs = 0;

  constructor(
    database: Database,
    log: (message: string, error?: unknown) => void,
    leaseMs = DEFAULT_LEASE_MS,
  ) {
    invariant(Number.isInteger(leaseMs) && leaseMs >= 100, 'leaseMs is at least 100.');
    this.#database = database;
    this.#log = log;
    this.#leaseMs = leaseMs;
  }

  get #pglite(): boolean {
    return this.#database.engine === 'pglite';
  }

  known(): Revision | null {
    if (!this.#synced) return null;
    if (!this.#pglite && performance.now() >= this.#leaseUntil) {
      this.#synced = false;
      this.#job?.wake(0);
      return null;
    }
    return this.#known;
  }

  untouched(from: Revision, to: Revision, identities: ReadonlySet<string>): boolean {
    return this.#journal.untouched(from, to, identities);
  }

  async committed(revision: Revision, change?: Change): Promise<void> {
    if (change !== undefined) this.#journal.record(change);
    this.#apply(revision);
    if (this.#pglite) return;
    const started = performance.now();
    let delay = 1;
    for (;;) {
      const [row] = await this.#database.queryArrays<[number, number]>(BEHIND_SQL, [
        this.#id,
        revision,
      ]);
      invariant(row !== undefined, 'an aggregate answers one row');
      const [behind, expiresInMs] = row;
      if (behind === 0) break;
      const waited = performance.now() - started;
      // Unreachable while every instance runs this code (a renewal acknowledges what it reads);
      // a bound so that a process that renews without applying cannot hold a change forever. The
      // change has committed, but its caller is told it is not yet in force everywhere: it never
      // returns as if it were (fail closed).
      if (waited > 3 * this.#leaseMs) {
        const message = `Revision ${revision} was committed, but ${behind} instance(s) neither applied it nor let their lease run out within ${Math.round(waited)} ms; until they do, they may still answer from what they held before.`;
        this.#log(message);
        throw new GraphQLError(message, {
          extensions: { code: 'SERVICE_UNAVAILABLE', revision, http: { status: 503 } },
        });
      }
      await pause(Math.max(1, Math.min(delay, expiresInMs)));
      delay = Math.min(delay * 2, 25);
    }
    const waitedMs = performance.now() - started;
    this.#waits += 1;
    if (waitedMs > this.#longestWaitMs) this.#longestWaitMs = waitedMs;
  }

  /**
   * Listens, takes the lease (PostgreSQL) and reads `revision_head`: from here on the caches answer
   * without reading. A failure is logged and left to the renewals to retry; meanwhile the caches
   * read through.
   */
  async start(): Promise<void> {
    try {
      if (this.#pglite) {
        await this.#listen();
        await this.#readHead();
        this.#synced = true;
      } else {
        await this.#renew();
      }
    } catch (error) {
      this.#log('Could not start following revisions; answers read revision_head meanwhile', error);
    }
  }

  /** The lease's renewals (PostgreSQL only; `undefined` on PGlite). */
  job(): JobDefinition | undefined {
    if (this.#pglite) return undefined;
    const every = Math.floor(this.#leaseMs / 4);
    return {
      name: 'instance-lease',
      intervalMs: every,
      retryBaseMs: Math.max(10, Math.floor(every / 4)),
      retryMaxMs: every,
      failure: 'Could not renew this instance’s lease; answers read revision_head meanwhile',
      recovery: 'This instance’s lease is renewed again',
      run: async () => {
        await this.#renew();
        return every;
      },
      attached: (job) => {
        this.#job = job;
      },
    };
  }

  /** Stops answering from the caches, stops listening and gives up the lease. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#synced = false;
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    await unlisten?.().catch(() => {});
    if (!this.#pglite) {
      await this.#database
        .query('delete from instance_leases where id = $1', [this.#id])
        .catch((error: unknown) => this.#log('Could not give up this instance’s lease', error));
    }
  }

  status(): RevisionFeedStatus {
    return {
      instanceId: this.#pglite ? null : this.#id,
      synced: this.known() !== null,
      known: this.#known,
      waits: this.#waits,
      longestWaitMs: Math.round(this.#longestWaitMs),
    };
  }

  async #renew(): Promise<void> {
    if (this.#closed) return;
    if (this.#unlisten === null) await this.#listen();
    const sentAt = performance.now();
    const applied = this.#unlisten === null ? null : this.#known;
    const [row] = await this.#database.queryArrays<[Revision]>(RENEW_SQL, [
      this.#id,
      this.#leaseMs,
      applied,
      this.#process,
    ]);
    invariant(row !== undefined, 'the lease upsert returns its row');
    // A renewal answered after the previous lease may have run out leaves a gap in which changes
    // were not waited for: the caches answer again only after a read sent after this renewal.
    const gap = performance.now() >= this.#leaseUntil;
    if (gap) this.#synced = false;
    this.#leaseUntil = sentAt + this.#leaseMs * 0.9;
    this.#apply(row[0]);
    if (!this.#synced && this.#unlisten !== null && !this.#closed) {
      await this.#readHead();
      this.#synced = this.#unlisten !== null && !this.#closed;
    }
    this.#renewals += 1;
    if (this.#renewals % 240 === 0) await this.#database.query(FORGET_SQL);
  }

  async #listen(): Promise<void> {
    this.#unlisten = await this.#database.watch(
      CHANGE_CHANNEL,
      (payload) => this.#heard(payload),
      () => {
        this.#unlisten = null;
        this.#synced = false;
        if (!this.#closed) {
          this.#log(
            'The revision listener’s connection broke; answers read revision_head until it is back',
          );
          this.#job?.wake(0);
        }
      },
    );
  }

  async #readHead(): Promise<void> {
    const [row] = await this.#database.queryArrays<[Revision]>(HEAD_SQL);
    invariant(row !== undefined, 'revision_head holds its one row.');
    // The journal is read from here on: what came before is in the head just read.
    this.#readChangesFrom ??= row[0];
    this.#apply(row[0]);
  }

  /**
   * A notification: its revision applies at once (so nothing read before it hits again, as if
   * every change touched everything), then the journal's new rows are read, one read at a time
   * (another if more came meanwhile), to carry what they did not touch. A forged revision can only
   * make entries miss; what a change touched is only ever read from the table.
   */
  #heard(payload: string): void {
    // The journal is read from what was applied before this notification, not after it.
    this.#readChangesFrom ??= this.#known;
    const revision = revisionIn(payload);
    if (revision !== null) this.#apply(revision, false);
    this.#changesPending = true;
    this.#reading ??= this.#drainChanges().finally(() => {
      this.#reading = null;
    });
  }

  settled(): Promise<void> {
    return this.#reading ?? Promise.resolve();
  }

  /**
   * Reads the journal until no notification is left unread, then acknowledges what was applied:
   * a change returns once every instance knows what it touched, so a request after it carries
   * what it did not touch. A failed read still acknowledges (the revisions are applied; only
   * carrying waits for a later read).
   */
  async #drainChanges(): Promise<void> {
    try {
      while (this.#changesPending && !this.#closed) {
        this.#changesPending = false;
        await this.#readChanges();
      }
    } catch (error) {
      this.#log('Could not read the change journal; entries it would carry miss meanwhile', error);
    } finally {
      this.#acknowledgeKnown();
    }
  }

  async #readChanges(): Promise<void> {
    for (;;) {
      const from = this.#readChangesFrom ?? this.#known;
      const rows = await this.#database.queryArrays<[Revision, Revision, string]>(CHANGES_SQL, [
        from,
      ]);
      for (const [revision, advancedFrom, touched] of rows) {
        this.#journal.record({ revision, from: advancedFrom, touched: parseTouched(touched) });
        this.#readChangesFrom = revision;
        this.#apply(revision, false);
      }
      this.#changeReads += 1;
      if (this.#changeReads % 256 === 0) await this.#database.query(FORGET_CHANGES_SQL);
      if (rows.length < 1000 || this.#closed) return;
    }
  }

  /**
   * Entries older than `revision` no longer hit; then it is acknowledged (PostgreSQL), unless the
   * caller acknowledges later (a notification: once the journal's rows are read).
   */
  #apply(revision: Revision, acknowledge = true): void {
    if (compareRevisions(revision, this.#known) <= 0) return;
    this.#known = revision;
    if (acknowledge) this.#acknowledgeKnown();
  }

  #acknowledgeKnown(): void {
    if (!this.#pglite && this.#unlisten !== null) void this.#acknowledge();
  }

  /** Writes the newest applied revision to the lease row; one write in flight at a time. */
  async #acknowledge(): Promise<void> {
    if (this.#acking) return;
    this.#acking = true;
    try {
      while (compareRevisions(this.#known, this.#acked) > 0 && !this.#closed) {
        const revision = this.#known;
        await this.#database.query(ACK_SQL, [this.#id, revision]);
        this.#acked = revision;
      }
    } catch (error) {
      // The next renewal writes the revision instead.
      this.#log('Could not acknowledge a revision; the next lease renewal will', error);
    } finally {
      this.#acking = false;
    }
  }
}

/** The revision a notification's text names, or `null` when it names none. */
function revisionIn(payload: string): Revision | null {
  try {
    return parseRevision(payload);
  } catch {
    return null;
  }
}

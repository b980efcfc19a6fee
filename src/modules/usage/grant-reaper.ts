import { and, asc, eq, gt, or, type SQL, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import { grants, grantUsage, scopes } from '../../db/tables.js';
import type { JobDefinition } from '../../workers/scheduler.js';
import { liveGrant } from '../grants/live-grants.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { runChange } from '../revision/run-change.js';
import { describeWindow } from './unused-window.js';

/** How the reaper runs. */
export interface GrantReaperOptions {
  /** How often it looks for unused grants. @default 60000 */
  readonly intervalMs?: number;
  /**
   * The window for scopes without a policy of their own (`REAP_UNUSED_AFTER_SECONDS`); null: those
   * scopes are not reaped. @default null
   */
  readonly defaultUnusedSeconds?: number | null;
  /** Most grants revoked by one run (one transaction); a full run is followed by another soon. @default 500 */
  readonly maxPerRun?: number;
  /**
   * Whether this process holds a use of the grant not yet written (`GrantUsageRecorder
   * .hasUnwritten`): such a grant is spared even when the database says it is unused, since the
   * use may have come after the run wrote the pending ones. @default none
   */
  readonly hasUnwrittenUse?: (grantId: string) => boolean;
}

/** What one run did. */
export interface ReapResult {
  /** False when another instance was running the reaper. */
  readonly ran: boolean;
  readonly revoked: number;
  /** Last grantable holders of a built-in scope, kept. */
  readonly kept: number;
}

/** Every reaper on one database takes this lock for its run: one instance reaps at a time. */
const REAPER_LOCK = sql`hashtext('keyholder:grant-reaper')`;
const PAGE = 100;
const AGAIN_MS = 50;

const lastActivity = sql`coalesce(${grantUsage.lastUsedAt}, ${grants.createdAt})`;

/**
 * Revokes active grants that have authorized nothing for their scope's reaping window
 * (`scopes.reap_unused_after_seconds`, else the default; never-used grants count from their
 * creation), with reason `unused for N days` (or hours, minutes, seconds), no actor (Keyholder
 * itself) and a `grant.revoked` event carrying `reaped: true`:
 * - one run at a time across instances (`pg_try_advisory_xact_lock`; a busy lock skips the run);
 * - this process's pending uses are written first, and each grant is re-read under its row lock
 *   in the revoking transaction, so a use written before that is never reaped; a use this process
 *   recorded after the run wrote them (`hasUnwrittenUse`) spares the grant too;
 * - the last grantable holder of a built-in scope is never reaped: it is kept and logged once;
 * - grants of a scope no use of which was ever reported (`scopes.first_used_at`) are spared, and
 *   the scope logged once: a service enforcing it without reporting uses is not a sign of disuse;
 * - a failed run is logged and retried at the next interval; it never stops the server (see
 *   `job()`, run by the scheduler).
 */
export class GrantReaper {
  readonly #database: Database;
  readonly #log: (message: string, error?: unknown) => void;
  readonly #flushUses: () => Promise<void>;
  readonly #intervalMs: number;
  readonly #defaultUnusedSeconds: number | null;
  readonly #maxPerRun: number;
  readonly #hasUnwrittenUse: (grantId: string) => boolean;
  readonly #keptLogged = new Set<string>();
  readonly #sparedLogged = new Set<string>();

  constructor(
    database: Database,
    log: (message: string, error?: unknown) => void,
    flushUses: () => Promise<void>,
    options: GrantReaperOptions = {},
  ) {
    this.#database = database;
    this.#log = log;
    this.#flushUses = flushUses;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#defaultUnusedSeconds = options.defaultUnusedSeconds ?? null;
    this.#maxPerRun = options.maxPerRun ?? 500;
    this.#hasUnwrittenUse = options.hasUnwrittenUse ?? (() => false);
  }

  /** The reaper as a job of the scheduler: every `intervalMs`, soon again after a full run. */
  job(): JobDefinition {
    return {
      name: 'grant-reaper',
      run: async () => {
        const result = await this.run();
        return result.revoked >= this.#maxPerRun ? AGAIN_MS : undefined;
      },
      intervalMs: this.#intervalMs,
      firstRunMs: this.#intervalMs,
      retryBaseMs: this.#intervalMs,
      retryMaxMs: this.#intervalMs,
      failure: 'The unused-grant reaper failed; retrying at its next interval',
    };
  }

  /** One run: writes pending uses, then revokes what is due (up to `maxPerRun`). */
  async run(): Promise<ReapResult> {
    await this.#flushUses();
    return runChange(this.#database, null, async (tx) => {
      const [lock] = rowsOf<{ locked: boolean }>(
        await tx.execute(sql`select pg_try_advisory_xact_lock(${REAPER_LOCK}) as locked`),
      );
      if (lock?.locked !== true) return { ran: false, revoked: 0, kept: 0 };
      await this.#explainSpared(tx);
      let revoked = 0;
      let kept = 0;
      let after: { activity: Date; id: string } | null = null;
      while (revoked < this.#maxPerRun) {
        const page = await this.#candidates(tx, after);
        for (const candidate of page) {
          const outcome = await this.#reap(tx, candidate.id);
          if (outcome === 'revoked') revoked += 1;
          else if (outcome === 'kept') kept += 1;
          if (revoked >= this.#maxPerRun) break;
        }
        const last = page.at(-1);
        if (page.length < PAGE || last === undefined) break;
        after = last;
      }
      return { ran: true, revoked, kept };
    });
  }

  /**
   * The reaping window of a grant: its scope's policy (a role's: the shortest of its scopes'),
   * else the default (null: none). A grant of a role is used when any of its scopes is.
   */
  #window(): SQL {
    return sql`coalesce(${scopes.reapUnusedAfterSeconds},
      (select min(rs_scope.reap_unused_after_seconds) from role_scopes rs
       join scopes rs_scope on rs_scope.name = rs.scope where rs.role = ${grants.role}),
      ${this.#defaultUnusedSeconds}::int)`;
  }

  /**
   * Whether a grant's scope (a role grant's: any of the role's scopes) has ever been used where
   * uses are reported. Until then the reaper cannot tell unused from unreported (a service that
   * enforces it without reporting) and spares its grants.
   */
  #everUsed(): SQL {
    return sql`(${scopes.firstUsedAt} is not null or exists (
      select 1 from role_scopes rs join scopes rs_scope on rs_scope.name = rs.scope
      where rs.role = ${grants.role} and rs_scope.first_used_at is not null))`;
  }

  /** Logs, once per scope, each scope whose overdue grants are spared because no use was ever reported. */
  async #explainSpared(tx: Tx): Promise<void> {
    const rows = await tx
      .selectDistinct({ scope: grants.scope })
      .from(grants)
      .innerJoin(scopes, eq(scopes.name, grants.scope))
      .leftJoin(grantUsage, eq(grantUsage.grantId, grants.id))
      .where(
        and(
          liveGrant(),
          sql`${scopes.firstUsedAt} is null`,
          sql`${lastActivity} < now() - make_interval(secs => ${this.#window()})`,
        ),
      )
      .limit(20);
    for (const { scope } of rows) {
      if (scope === null || this.#sparedLogged.has(scope)) continue;
      this.#sparedLogged.add(scope);
      this.#log(
        `Not reaping grants of "${scope}": no use of it has ever been reported (by @requires, check, AuthZEN or a remoteGrants report), so unused cannot be told from unreported. Its grants are reaped once one use is recorded.`,
      );
    }
  }

  /** Grants due for reaping, least recently active first, after `after`. */
  async #candidates(tx: Tx, after: { activity: Date; id: string } | null) {
    const window = this.#window();
    const conditions: SQL[] = [
      liveGrant(),
      sql`${lastActivity} < now() - make_interval(secs => ${window})`,
      this.#everUsed(),
    ];
    if (after !== null) {
      const at = sql`${after.activity.toISOString()}::timestamptz`;
      conditions.push(
        or(gt(lastActivity, at), and(eq(lastActivity, at), gt(grants.id, after.id))) as SQL,
      );
    }
    const rows = await tx
      .select({ id: grants.id, createdAt: grants.createdAt, lastUsedAt: grantUsage.lastUsedAt })
      .from(grants)
      .leftJoin(scopes, eq(scopes.name, grants.scope))
      .leftJoin(grantUsage, eq(grantUsage.grantId, grants.id))
      .where(and(...conditions))
      .orderBy(asc(lastActivity), asc(grants.id))
      .limit(PAGE);
    return rows.map((r) => ({ id: r.id, activity: r.lastUsedAt ?? r.createdAt }));
  }

  /**
   * Re-reads the grant under its row lock and revokes it if it is still active and unused; spares
   * it when it was revoked, expired or used meanwhile (written, or recorded by this process and
   * not yet written), or its scope's policy was cleared.
   */
  async #reap(tx: Tx, id: string): Promise<'revoked' | 'kept' | 'spared'> {
    const window = this.#window();
    const [current] = await tx
      .select({
        grant: grants,
        lastUsedAt: grantUsage.lastUsedAt,
        window: sql<number | null>`${window}`,
        unused: sql<boolean>`${lastActivity} < now() - make_interval(secs => ${window})`,
      })
      .from(grants)
      .leftJoin(scopes, eq(scopes.name, grants.scope))
      .leftJoin(grantUsage, eq(grantUsage.grantId, grants.id))
      .where(and(eq(grants.id, id), liveGrant()))
      .for('update', { of: grants });
    if (
      current === undefined ||
      current.unused !== true ||
      current.window === null ||
      this.#hasUnwrittenUse(id)
    ) {
      return 'spared';
    }
    const { grant } = current;
    const seconds = Number(current.window);
    const reason = `unused for ${describeWindow(seconds)}`;
    const [result] = await revokeGrantsInTx(tx, null, [grant], {
      reason,
      details: {
        reaped: true,
        unusedForSeconds: seconds,
        lastUsedAt: current.lastUsedAt?.toISOString() ?? null,
      },
      lastHolder: 'keep',
      what: () => `Reaping grant ${grant.id}`,
    });
    if (result?.outcome === 'KEPT') {
      if (!this.#keptLogged.has(grant.id)) {
        this.#keptLogged.add(grant.id);
        this.#log(
          `Kept grant ${grant.id} of "${grant.scope}" although it is ${reason}: it is the last active grantable holder of that built-in scope.`,
        );
      }
      return 'kept';
    }
    return 'revoked';
  }
}

import type { Database } from '../../db/client.js';
import type { JobDefinition } from '../../workers/scheduler.js';
import type { VerifiedProof } from './dpop-proof.js';

const REMEMBER_SQL = `insert into dpop_proofs (jti, expires_at) values ($1, $2)
on conflict (jti) do nothing returning jti`;
// PostgreSQL: `set_config(..., true)` lasts until this statement's own transaction commits, which
// then does not wait for the WAL flush (asynchronous commit, for this statement only).
const REMEMBER_ASYNC_COMMIT_SQL = `insert into dpop_proofs (jti, expires_at)
select $1::text, $2::timestamptz from (select set_config('synchronous_commit', 'off', true)) as async_commit
on conflict (jti) do nothing returning jti`;
const PURGE_SQL = 'delete from dpop_proofs where expires_at < now()';

/** How often the purge job runs when nothing wakes it, in ms. */
export const DPOP_PURGE_INTERVAL_MS = 60_000;

/**
 * The DPoP proofs already used, shared by every instance through the `dpop_proofs` table: a proof
 * is remembered by its key's thumbprint and `jti` with one insert that fails for one already there
 * (no read first, so two instances racing on one proof let exactly one through). Rows are purged
 * by the scheduler once the proof's `iat` can no longer pass.
 *
 * On PostgreSQL the insert commits asynchronously (`synchronous_commit = off`, for that statement
 * only): the row is visible to every instance, and the conflict enforced, as soon as the statement
 * returns, but the request does not wait for the disk flush of the WAL (0.3 to 3 ms on this
 * machine, most of what a bound request cost). Only a crash of the database server can forget
 * the proofs of its last moments (up to three `wal_writer_delay`s, 600 ms by default), which
 * could then be replayed within their 60 s window. PGlite, where the setting saves nothing
 * measurable, keeps the plain insert.
 */
export class DpopReplayCache {
  private readonly rememberSql: string;

  constructor(private readonly database: Database) {
    this.rememberSql = database.engine === 'postgres' ? REMEMBER_ASYNC_COMMIT_SQL : REMEMBER_SQL;
  }

  /** Remembers `proof`; `false` when it was already used (a replay). */
  async remember(proof: VerifiedProof): Promise<boolean> {
    const rows = await this.database.queryArrays<[string]>(this.rememberSql, [
      `${proof.jkt}:${proof.jti}`,
      proof.forgetAt.toISOString(),
    ]);
    return rows.length === 1;
  }

  /** The purge of forgotten proofs, for the one scheduler. */
  job(): JobDefinition {
    return {
      name: 'dpop-proof-purge',
      intervalMs: DPOP_PURGE_INTERVAL_MS,
      firstRunMs: DPOP_PURGE_INTERVAL_MS,
      run: async () => {
        await this.database.query(PURGE_SQL);
        return undefined;
      },
    };
  }
}

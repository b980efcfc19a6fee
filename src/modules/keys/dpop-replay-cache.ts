import type { Database } from '../../db/client.js';
import type { JobDefinition } from '../../workers/scheduler.js';
import type { VerifiedProof } from './dpop-proof.js';

const REMEMBER_SQL = `insert into dpop_proofs (jti, expires_at) values ($1, $2)
on conflict (jti) do nothing returning jti`;
const PURGE_SQL = 'delete from dpop_proofs where expires_at < now()';

/** How often the purge job runs when nothing wakes it, in ms. */
export const DPOP_PURGE_INTERVAL_MS = 60_000;

/**
 * The DPoP proofs already used, shared by every instance through the `dpop_proofs` table: a proof
 * is remembered by its key's thumbprint and `jti` with one insert that fails for one already there
 * (no read first, so two instances racing on one proof let exactly one through). Rows are purged
 * by the scheduler once the proof's `iat` can no longer pass.
 */
export class DpopReplayCache {
  constructor(private readonly database: Database) {}

  /** Remembers `proof`; `false` when it was already used (a replay). */
  async remember(proof: VerifiedProof): Promise<boolean> {
    const rows = await this.database.queryArrays<[string]>(REMEMBER_SQL, [
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

import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import {
  CHAINED_COLUMNS,
  type ChainedEvent,
  chainHash,
  GENESIS_HASH,
  sealEvents,
} from './audit-chain.js';

const BATCH = 5000;

/**
 * Seals the events written before Keyholder sealed its audit log (an upgrade), once: only while
 * `audit_seals` is empty, and only if their chain verifies with Keyholder's own hash (the link,
 * the stored hash and gapless `seq` from 1). What this vouches for is that the log was intact
 * when this version first started, not how it came to be; an operator who doubts the log before
 * the upgrade compares it with an earlier export. Returns how many events were sealed, or `null`
 * when there was nothing to adopt; throws when the unsealed chain does not verify (nothing sealed).
 */
export async function adoptUnsealedEvents(database: Database): Promise<number | null> {
  const [state] = await database.query<{ sealed: boolean; events: boolean }>(
    `select exists (select 1 from audit_seals) as sealed, exists (select 1 from audit_events) as events`,
  );
  if (state?.sealed !== false || state.events !== true) return null;
  return database.db.transaction(async (tx) => {
    let previous = GENESIS_HASH;
    let expected = 1;
    for (;;) {
      const from = expected === 1 ? Number.MIN_SAFE_INTEGER : expected;
      const rows = rowsOf<ChainedEvent>(
        await tx.execute(
          sql`select ${sql.raw(CHAINED_COLUMNS)} from audit_events e where e.seq >= ${from} order by e.seq, e.id limit ${BATCH}`,
        ),
      );
      for (const row of rows) {
        if (
          Number(row.seq) !== expected ||
          row.prevHash !== previous ||
          chainHash(row) !== row.hash
        ) {
          throw new Error(
            `The audit log written before sealing does not verify at seq ${row.seq}; it is left unsealed and verification reports it.`,
          );
        }
        previous = row.hash;
        expected += 1;
      }
      await sealEvents(tx, rows);
      if (rows.length < BATCH) return expected - 1;
    }
  });
}

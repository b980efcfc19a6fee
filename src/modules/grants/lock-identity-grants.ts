import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';

/**
 * Takes the transaction-level advisory lock of one identity's grants, so concurrent grants to (and
 * revocations of everything of) one identity cannot duplicate or miss each other.
 */
export async function lockIdentityGrants(tx: Tx, identityId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`grants:${identityId}`}))`);
}

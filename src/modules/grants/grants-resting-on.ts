import { and, arrayOverlaps, asc, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { type GrantRow, grants } from '../../db/tables.js';
import { isLive } from './live-grants.js';

/** Delegation chains are short; a longer one stops here (what is past it stays, and can be revoked). */
const MAX_CASCADE_DEPTH = 32;

/**
 * The live grants that rest on `revoked` and on nothing else still live, transitively: each was
 * made on the authority of grants (`authorizedBy`) of which none survives this revocation (revoked
 * here, already revoked, or expired). Locked `FOR UPDATE`, in the order found (nearest first), for
 * `revokeGrantsInTx`. A grant also resting on another live grant stays: it is still authorized.
 */
export async function grantsRestingOn(
  tx: Tx,
  revoked: readonly string[],
  now: Date,
): Promise<GrantRow[]> {
  const gone = new Set(revoked);
  const found: GrantRow[] = [];
  let frontier = [...revoked];
  for (let depth = 0; frontier.length > 0 && depth < MAX_CASCADE_DEPTH; depth += 1) {
    const resting = await tx
      .select()
      .from(grants)
      .where(and(isNull(grants.revokedAt), arrayOverlaps(grants.authorizedBy, frontier)))
      .orderBy(asc(grants.createdAt), asc(grants.id))
      .for('update');
    const others = [
      ...new Set(resting.flatMap((g) => g.authorizedBy ?? []).filter((id) => !gone.has(id))),
    ];
    const stillLive = new Set(
      others.length === 0
        ? []
        : (
            await tx
              .select({ id: grants.id, revokedAt: grants.revokedAt, expiresAt: grants.expiresAt })
              .from(grants)
              .where(inArray(grants.id, others))
          )
            .filter((g) => isLive(g, now.getTime()))
            .map((g) => g.id),
    );
    frontier = [];
    for (const grant of resting) {
      if (gone.has(grant.id) || !isLive(grant, now.getTime())) continue;
      if ((grant.authorizedBy ?? []).some((id) => stillLive.has(id))) continue;
      gone.add(grant.id);
      found.push(grant);
      frontier.push(grant.id);
    }
  }
  return found;
}

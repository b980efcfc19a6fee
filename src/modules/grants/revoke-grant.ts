import { inArray } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { type GrantRow, grants } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import type { Caller } from '../keys/authentication.js';
import { conferredBy } from './grant-authority.js';
import { grantRevoked } from './grant-events.js';
import { isLive } from './live-grants.js';
import { isRootGrant, lastRootHolder, orphanedScopes } from './root-holders.js';

/** How one revocation is recorded, and what it does with a grant no one else could replace. */
export interface Revocation {
  /** The grants' `revokeReason`, and the reason in each `grant.revoked` event. */
  readonly reason: string;
  /** Added to each `grant.revoked` event (says which operation revoked). */
  readonly details?:
    | Readonly<Record<string, unknown>>
    | ((grant: GrantRow) => Readonly<Record<string, unknown>>);
  /**
   * A live grant whose revocation would leave a scope with no root holder
   * (see `orphanedScopes`):
   * - `refuse`: the whole change fails with `CONFLICT` (a person asked: they are told why);
   * - `keep`: that grant stays, reported `KEPT` with the sentence (a background job decided: the
   *   others are revoked all the same).
   */
  readonly lastHolder: 'refuse' | 'keep';
  /** The revocation's instant (`revokedAt`), when another row records the same one. @default now */
  readonly at?: Date;
  /** Begins the sentence of a refusal or a kept grant, e.g. `Revoking grant <id>`. */
  readonly what: (grant: GrantRow) => string;
}

/** What became of one grant. */
export type RevokeOutcome =
  | { readonly outcome: 'REVOKED'; readonly grant: GrantRow }
  | { readonly outcome: 'KEPT'; readonly grant: GrantRow; readonly why: string };

/**
 * The one revocation: every path that ends grants (`revokeGrant`, the kill switch, a reviewer's
 * decision, a review's due time, the reaper) ends them here, inside the caller's change (see
 * `runChange`: the revision advances, webhooks are queued by the audit trigger).
 * - `grants` are rows the caller read and locked `FOR UPDATE`, none revoked yet; grants past their
 *   expiry are revoked too and recorded as inactive;
 * - no-lockout: live root grants are checked together, then (with `keep`) one by one, so each
 *   check sees what this change already took away;
 * - one `update` for all, then one `grant.revoked` event each, in the order given.
 * `actor` null: Keyholder itself (a background job).
 */
export async function revokeGrantsInTx(
  tx: Tx,
  actor: Caller | null,
  toRevoke: readonly GrantRow[],
  revocation: Revocation,
): Promise<RevokeOutcome[]> {
  const now = revocation.at ?? new Date();
  const kept = new Map<string, string>();
  const roots = toRevoke.filter((g) => isRootGrant(g) && isLive(g, now.getTime()));
  if (roots.length > 0) {
    const ids = roots.map((g) => g.id);
    const orphaned = await orphanedScopes(tx, { grantIds: ids });
    if (orphaned.length > 0) {
      if (revocation.lastHolder === 'refuse') {
        throw lastRootHolder(revocation.what(roots[0] as GrantRow), orphaned);
      }
      const removed: string[] = [];
      for (const grant of roots) {
        const left = await orphanedScopes(tx, { grantIds: [...removed, grant.id] });
        if (left.length === 0) removed.push(grant.id);
        else kept.set(grant.id, lastRootHolder(revocation.what(grant), left).message);
      }
    }
  }
  const revoking = toRevoke.filter((g) => !kept.has(g.id));
  if (revoking.length > 0) {
    await tx
      .update(grants)
      .set({
        revokedAt: now,
        revokedBy: actor?.identity.id ?? null,
        revokeReason: revocation.reason,
      })
      .where(
        inArray(
          grants.id,
          revoking.map((g) => g.id),
        ),
      );
  }
  const conferred = await conferredBy(
    tx,
    revoking.filter((g) => g.role !== null),
  );
  const outcomes: RevokeOutcome[] = [];
  for (const grant of toRevoke) {
    const why = kept.get(grant.id);
    if (why !== undefined) {
      outcomes.push({ outcome: 'KEPT', grant, why });
      continue;
    }
    await recordChange(
      tx,
      actor,
      grantRevoked(
        grant,
        isLive(grant, now.getTime()),
        revocation.reason,
        typeof revocation.details === 'function' ? revocation.details(grant) : revocation.details,
        (conferred.get(grant.id) ?? []).map((t) => t.scope),
      ),
    );
    outcomes.push({
      outcome: 'REVOKED',
      grant: {
        ...grant,
        revokedAt: now,
        revokedBy: actor?.identity.id ?? null,
        revokeReason: revocation.reason,
      },
    });
  }
  return outcomes;
}

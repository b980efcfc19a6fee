import { and, asc, eq } from 'drizzle-orm';
import { notFound } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { identities } from '../../db/tables.js';
import { revokeEverythingOf } from '../grants/revoke-all-grants.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { parseId, requireText } from '../shared/validate.js';

/** What an owner's kill switch took away, as ids. */
export interface RevokedOwnedAccess {
  readonly identityIds: readonly string[];
  readonly grantIds: readonly string[];
  readonly apiKeyIds: readonly string[];
}

/**
 * The owner's kill switch: revokes every active grant and live API key of the identities `actor`
 * owns (or of `rawIdentityId` alone), in one transaction, one audit event each. No scope needed:
 * the owner answers for them, and it only takes access away.
 * - an id that is not an identity the actor owns: NOT_FOUND (whether it exists is not revealed);
 * - owning nothing: an empty result, not an error.
 */
export async function revokeOwnedAccess(
  database: Database,
  actor: Caller,
  rawReason: string,
  rawIdentityId: string | null | undefined,
): Promise<RevokedOwnedAccess> {
  const reason = requireText(rawReason, 'reason', 1000);
  const only =
    rawIdentityId === null || rawIdentityId === undefined
      ? null
      : parseId(rawIdentityId, 'identity');
  return runChange(database, actor, async (tx) => {
    const owned = await tx
      .select()
      .from(identities)
      .where(
        only === null
          ? eq(identities.ownerId, actor.identity.id)
          : and(eq(identities.ownerId, actor.identity.id), eq(identities.id, only)),
      )
      .orderBy(asc(identities.createdAt), asc(identities.id));
    if (only !== null && owned.length === 0) {
      throw notFound(`You own no identity ${only}.`, { field: 'identityId' });
    }
    const result = {
      identityIds: [] as string[],
      grantIds: [] as string[],
      apiKeyIds: [] as string[],
    };
    for (const identity of owned) {
      const revoked = await revokeEverythingOf(tx, actor, identity, reason, {
        details: { revokeOwned: true, ownerId: actor.identity.id },
      });
      result.identityIds.push(identity.id);
      result.grantIds.push(...revoked.grants.map((g) => g.id));
      result.apiKeyIds.push(...revoked.apiKeys.map((k) => k.id));
    }
    return result;
  });
}

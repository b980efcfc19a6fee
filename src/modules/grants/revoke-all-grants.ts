import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { badUserInput, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  type ApiKeyRow,
  apiKeys,
  type GrantRow,
  grants,
  type IdentityRow,
  identities,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { endMembershipsOf } from '../groups/group-service.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { parseId, requireText } from '../shared/validate.js';
import { describeResource } from './describe-resource.js';
import { actorOf, beyondRevocationAuthority } from './grant-authority.js';
import { liveGrant } from './live-grants.js';
import { lockIdentityGrants } from './lock-identity-grants.js';
import { revokeGrantsInTx } from './revoke-grant.js';
import { keepRootHolders } from './root-holders.js';

/** What the kill switch took away. */
export interface RevokedEverything {
  readonly identity: IdentityRow;
  readonly grants: readonly GrantRow[];
  readonly apiKeys: readonly ApiKeyRow[];
  /** The group memberships it ended. */
  readonly membershipIds: readonly string[];
}

/**
 * The kill switch: revokes every active grant and every live API key of an identity, in one
 * transaction, with one audit event each. All or nothing:
 * - every grant must be one the actor may revoke (its grantor, or holding its scope grantable on
 *   its resource), else FORBIDDEN naming those it may not;
 * - it may not leave a scope without a root holder (CONFLICT, see `orphanedScopes`);
 * - nobody uses it on themselves.
 */
export async function revokeAllGrants(
  database: Database,
  actor: Caller,
  rawId: string,
  rawReason: string,
): Promise<RevokedEverything> {
  const id = parseId(rawId, 'identity');
  const reason = requireText(rawReason, 'reason', 1000);
  if (id === actor.identity.id) {
    throw badUserInput('You cannot revoke all of your own access; ask another administrator.', {
      field: 'identityId',
    });
  }
  return runChange(database, actor, async (tx) => {
    const [identity] = await tx.select().from(identities).where(eq(identities.id, id));
    if (identity === undefined) throw notFound(`Identity ${id} does not exist.`);
    return revokeEverythingOf(tx, actor, identity, reason, {
      details: { revokeAll: true },
      authorize: async (live) => {
        const beyond = await beyondRevocationAuthority(tx, actorOf(actor), live);
        if (beyond.length > 0) {
          throw forbidden(
            `Revoking every grant of "${identity.name}" requires being the grantor of, or holding grantable, ${beyond
              .map((g) => `"${g.scope}" on ${describeResource(g.resource)}`)
              .join(', ')}.`,
            { grantIds: beyond.map((g) => g.id) },
          );
        }
      },
    });
  });
}

/** How `revokeEverythingOf` records and authorizes its work. */
export interface RevokeEverythingOptions {
  /** Added to every audit event it writes (says which operation revoked). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Throws when the actor may not revoke these live grants; runs after they are locked. */
  readonly authorize?: (live: readonly GrantRow[]) => Promise<void>;
}

/**
 * Inside `tx`: locks and revokes every active grant and live API key of `identity`, with one audit
 * event each (see `revokeGrantsInTx`), keeping a root holder of every scope (CONFLICT
 * otherwise).
 */
export async function revokeEverythingOf(
  tx: Tx,
  actor: Caller,
  identity: IdentityRow,
  reason: string,
  options: RevokeEverythingOptions,
): Promise<RevokedEverything> {
  const id = identity.id;
  await lockIdentityGrants(tx, id);
  const now = new Date();
  const live = await tx
    .select()
    .from(grants)
    .where(and(eq(grants.identityId, id), liveGrant()))
    .orderBy(grants.createdAt, grants.id)
    .for('update');
  const keys = await tx
    .select()
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.identityId, id),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
      ),
    )
    .for('update');
  await options.authorize?.(live);
  await keepRootHolders(tx, { identityIds: [id] }, `Revoking every grant of "${identity.name}"`);
  const memberships = await endMembershipsOf(tx, actor, id, reason, options.details);
  const revokedGrants = await revokeGrantsInTx(tx, actor, live, {
    reason,
    details: options.details,
    lastHolder: 'refuse',
    what: () => `Revoking every grant of "${identity.name}"`,
  });
  const revokedKeys =
    keys.length === 0
      ? []
      : await tx
          .update(apiKeys)
          .set({ revokedAt: now, revokedBy: actor.identity.id })
          .where(
            inArray(
              apiKeys.id,
              keys.map((k) => k.id),
            ),
          )
          .returning();
  for (const key of keys) {
    await recordChange(tx, actor, {
      action: 'apikey.revoked',
      subjectId: key.id,
      details: { before: { identityId: id, prefix: key.prefix }, reason, ...options.details },
    });
  }
  return {
    identity,
    grants: revokedGrants.map((r) => r.grant),
    apiKeys: revokedKeys,
    membershipIds: memberships.map((m) => m.id),
  };
}

import { and, eq, inArray, isNull } from 'drizzle-orm';
import { isDomainError } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  type GroupMemberRow,
  type GroupRow,
  groupMembers,
  groups,
  identities,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { liveMembership } from '../grants/live-grants.js';
import { lockIdentityGrants } from '../grants/lock-identity-grants.js';
import { runChange } from '../revision/run-change.js';
import { memberAdded, memberRenewed } from './group-events.js';
import { assertMayConferGroup, endMemberships } from './group-service.js';

/** The token whose groups claim is reconciled: who it is for, and until when. */
export interface GroupsToken {
  readonly issuer: string;
  readonly subject: string;
  readonly expiresAt: Date;
  /** The claim's group ids (distinct), see `groupsClaimValues`. */
  readonly groupIds: readonly string[];
}

/** What one reconciliation did. */
export interface TokenMembershipChanges {
  /** No identity has the token's externalId yet. */
  readonly absent: boolean;
  readonly added: number;
  readonly renewed: number;
  readonly removed: number;
  /**
   * Groups named and fed by the issuer that the feeding manager may no longer hand out, and TOKEN
   * memberships kept until they expire because leaving would leave a scope without a root holder.
   */
  readonly refused: readonly { readonly group: string; readonly why: string }[];
}

/**
 * Makes the `source: TOKEN` memberships of the identity whose externalId is `externalId` what the
 * token's groups claim says, in one transaction (nothing is written when they already are):
 * - a group counts only when its `externalId` is in the claim and a manager let this very issuer
 *   feed it (`tokenIssuer`): another issuer's token, an unmarked or deleted group, an unknown value
 *   make nobody a member;
 * - a missing membership is added until the token's `exp`, in the name of the manager who let the
 *   issuer feed the group (`tokenFedBy`), who must still hold grantable everything the group
 *   confers until then, within the scopes' policies: a group conferring a `requiresApproval`
 *   scope is never joined by token. A refused group is reported, not joined;
 * - one already there is renewed to the later `exp` (same checks), one in a group the claim no
 *   longer names is removed (unless it is the last path to a scope's root holder: then it ends
 *   at its expiry); MANUAL and SCIM memberships are never touched (a member already in by them
 *   gets no TOKEN membership beside it);
 * - each change is an audit event carrying `details.token`; a disabled identity is left alone.
 */
export async function reconcileTokenMemberships(
  database: Database,
  externalId: string,
  token: GroupsToken,
): Promise<TokenMembershipChanges> {
  const refused: { group: string; why: string }[] = [];
  const counts = { absent: false, added: 0, renewed: 0, removed: 0 };
  const tokenFacts = { token: { issuer: token.issuer, subject: token.subject } };
  await runChange(database, null, async (tx) => {
    const [identity] = await tx
      .select({ id: identities.id, status: identities.status })
      .from(identities)
      .where(eq(identities.externalId, externalId));
    if (identity === undefined) {
      counts.absent = true;
      return;
    }
    if (identity.status !== 'ACTIVE') return;
    await lockIdentityGrants(tx, identity.id);
    const fed =
      token.groupIds.length === 0
        ? []
        : await tx
            .select()
            .from(groups)
            .where(
              and(
                eq(groups.tokenIssuer, token.issuer),
                inArray(groups.externalId, [...token.groupIds]),
                isNull(groups.deletedAt),
              ),
            );
    const held = await tx
      .select({ membership: groupMembers, group: groups })
      .from(groupMembers)
      .innerJoin(groups, eq(groups.id, groupMembers.groupId))
      .where(and(eq(groupMembers.memberIdentityId, identity.id), isNull(groupMembers.removedAt)))
      .for('update', { of: groupMembers });
    const byGroup = new Map(held.map((h) => [h.membership.groupId, h.membership]));
    const wanted = new Set(fed.map((g) => g.id));

    // Only this issuer's: a group now fed by another keeps what that one's tokens said.
    const leaving = held.filter(
      (h) =>
        h.membership.source === 'TOKEN' &&
        !wanted.has(h.membership.groupId) &&
        (h.group.tokenIssuer === null || h.group.tokenIssuer === token.issuer),
    );
    for (const { membership, group } of leaving) {
      try {
        await endTokenMembership(tx, group, membership, token, tokenFacts);
        counts.removed += 1;
      } catch (error) {
        // The last path to a scope's root holder (keepRootHolders refuses before writing): it is
        // kept until its token's exp, when it ends by itself.
        if (!isDomainError(error) || error.code !== 'CONFLICT') throw error;
        refused.push({ group: group.name, why: `not left: ${error.message}` });
      }
    }

    const now = Date.now();
    for (const group of fed) {
      const current = byGroup.get(group.id);
      if (current !== undefined && current.source !== 'TOKEN') continue;
      if (current?.expiresAt && current.expiresAt.getTime() >= token.expiresAt.getTime()) continue;
      const why = await refusal(tx, group, token.expiresAt, now);
      if (why !== null) {
        refused.push({ group: group.name, why: `not joined: ${why}` });
        continue;
      }
      if (current === undefined) {
        const [row] = await tx
          .insert(groupMembers)
          .values({
            groupId: group.id,
            memberIdentityId: identity.id,
            reason: `In the "${group.externalId}" group of a token from ${token.issuer}.`,
            source: 'TOKEN',
            addedBy: group.tokenFedBy,
            expiresAt: token.expiresAt,
          })
          .returning();
        if (row === undefined) throw new Error('Insert returned no membership row.');
        await recordChange(tx, null, memberAdded(group, row, tokenFacts));
        counts.added += 1;
      } else {
        await tx
          .update(groupMembers)
          .set({ expiresAt: token.expiresAt })
          .where(eq(groupMembers.id, current.id));
        await recordChange(tx, null, memberRenewed(group, current, token.expiresAt, tokenFacts));
        counts.renewed += 1;
      }
    }
  });
  return { ...counts, refused };
}

/**
 * Why the group's feeding manager may not hand out a token membership until `until` (their
 * authority, the scopes' policies), or null when they may.
 */
async function refusal(tx: Tx, group: GroupRow, until: Date, now: number): Promise<string | null> {
  if (group.tokenFedBy === null) return 'no manager feeds it';
  const [feeder] = await tx.select().from(identities).where(eq(identities.id, group.tokenFedBy));
  if (feeder === undefined || feeder.status !== 'ACTIVE') {
    return 'the manager who let the identity provider feed it is disabled';
  }
  try {
    await assertMayConferGroup(tx, { identity: feeder }, group, until, now, 'groups');
    return null;
  } catch (error) {
    if (isDomainError(error)) return error.message;
    throw error;
  }
}

/** Ends one TOKEN membership the claim no longer names (live or already expired). */
async function endTokenMembership(
  tx: Tx,
  group: GroupRow,
  membership: GroupMemberRow,
  token: GroupsToken,
  more: Record<string, unknown>,
): Promise<void> {
  const reason = `No longer in the groups claim of a token from ${token.issuer}.`;
  const [live] = await tx
    .select({ id: groupMembers.id })
    .from(groupMembers)
    .where(and(eq(groupMembers.id, membership.id), liveMembership()));
  if (live !== undefined) {
    await endMemberships(tx, null, group, [membership], reason, more);
    return;
  }
  // Already expired: closed so a later token can add it afresh; its end was its expiry.
  await tx
    .update(groupMembers)
    .set({ removedAt: membership.expiresAt ?? new Date(), removeReason: reason })
    .where(eq(groupMembers.id, membership.id));
}

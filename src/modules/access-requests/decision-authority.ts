import { eq } from 'drizzle-orm';
import { capToKeyScopes } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import type { Db, Tx } from '../../db/client.js';
import { type AccessRequestRow, groups } from '../../db/tables.js';
import { type Actor, isUnconditional, loadAuthority } from '../grants/grant-authority.js';
import { type ActiveGrant, loadLiveGrants } from '../grants/live-grants.js';
import { inSameParty } from '../identities/party.js';

/** Why an identity may not decide a request. */
export type DecisionRefusal =
  /** It made the request (two-person rule). */
  | 'OWN_REQUEST'
  /** The request asks for a grant (or a membership) for it (two-person rule). */
  | 'GRANTEE'
  /**
   * The requester or grantee and the decider are one party: one owns the other (directly or
   * through what it owns), or they have the same owner (see `partiesOf`).
   */
  | 'SAME_PARTY'
  /**
   * It does not hold what deciding needs (see `DecisionRequirement`) by a live grant without a
   * condition (an approval confers without one).
   */
  | 'NO_AUTHORITY';

/**
 * What deciding a request needs, held by a live grant without a condition: for a scope, that
 * scope grantable on a resource covering the request's; for a request to join a group, being its
 * manager (`groups:write` on the group's name). Approving a membership also needs holding
 * grantable everything the group confers, checked when it is made (see `admitApprovedMember`).
 */
export interface DecisionRequirement {
  readonly scope: string;
  readonly resource: string | null;
  readonly grantable: boolean;
  /** The group asked to join, for a membership request. */
  readonly group?: { readonly id: string; readonly name: string };
}

type RequestParties = Pick<
  AccessRequestRow,
  'requesterId' | 'identityId' | 'scope' | 'resource' | 'groupId'
>;

/** What deciding `request` needs (a membership request reads its group's name). */
export async function decisionRequirement(
  executor: Db | Tx,
  request: RequestParties,
): Promise<DecisionRequirement> {
  if (request.scope !== null) {
    return { scope: request.scope, resource: request.resource, grantable: true };
  }
  const groupId = request.groupId as string;
  const [group] = await executor
    .select({ id: groups.id, name: groups.name })
    .from(groups)
    .where(eq(groups.id, groupId));
  if (group === undefined) throw new Error(`Group ${groupId} vanished.`);
  return { scope: 'groups:write', resource: group.name, grantable: false, group };
}

/**
 * The grants of `grants` (live, the decider's) that meet `need` now, without a condition.
 */
export function meetingRequirement(
  grants: readonly ActiveGrant[],
  need: DecisionRequirement,
  now = Date.now(),
): ActiveGrant[] {
  const usable = need.grantable ? grants.filter((g) => g.grantable) : grants;
  return new GrantSet(usable).coveringAll(need.scope, need.resource, now).filter(isUnconditional);
}

/**
 * Whether `decider` may decide `request` now, read inside the deciding transaction: never the
 * requester nor the identity that would hold the grant or membership (nor anyone of their party:
 * an owner, what they own, what their owner owns), and only while holding
 * what `DecisionRequirement` says (an owned agent's grants capped by its owner's; locked
 * `FOR SHARE`, see `loadLiveGrants`). One rule for people approving and for auto-approval
 * policies, which decide on their setter's authority.
 * - allowed: `{ authority, need }`, the grants that allow it (never empty);
 * - refused: `{ refusal, need }`, saying why.
 */
export async function decisionAuthority(
  tx: Tx,
  decider: Actor,
  request: RequestParties,
): Promise<
  | { readonly authority: ActiveGrant[]; readonly need: DecisionRequirement }
  | { readonly refusal: DecisionRefusal; readonly need: DecisionRequirement }
> {
  const need = await decisionRequirement(tx, request);
  if (request.requesterId === decider.id) return { refusal: 'OWN_REQUEST', need };
  if (request.identityId === decider.id) return { refusal: 'GRANTEE', need };
  // What the decider owns, or whoever owns it, acts for the same someone: one party.
  if (await inSameParty(tx, decider.id, [request.requesterId, request.identityId])) {
    return { refusal: 'SAME_PARTY', need };
  }
  // An approval confers without a condition: authority held only under a condition would hand
  // out more than it holds (see `carriesConditions`).
  const authority = need.grantable
    ? (await loadAuthority(tx, decider, [need.scope])).unconditionallyOver(need)
    : meetingRequirement(
        capToKeyScopes(
          (
            await loadLiveGrants(tx, [decider.id], {
              lock: true,
              scopes: [need.scope],
              tokenMemberships: decider.tokenGroups,
            })
          ).grants.get(decider.id) ?? [],
          decider.keyScopes,
        ),
        need,
      );
  return authority.length === 0 ? { refusal: 'NO_AUTHORITY', need } : { authority, need };
}

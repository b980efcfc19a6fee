import type { Tx } from '../../db/client.js';
import type { AccessRequestRow, IdentityRow } from '../../db/tables.js';
import { loadAuthority } from '../grants/grant-authority.js';
import type { ActiveGrant } from '../grants/live-grants.js';

/** Why an identity may not decide a request. */
export type DecisionRefusal =
  /** It made the request (two-person rule). */
  | 'OWN_REQUEST'
  /** The request asks for a grant to it (two-person rule). */
  | 'GRANTEE'
  /**
   * It holds no live grantable grant of the scope covering the request's resource, without a
   * condition (an approval creates an unconditional grant).
   */
  | 'NO_AUTHORITY';

/**
 * Whether `decider` may decide `request` now, read inside the deciding transaction: never the
 * requester nor the identity that would hold the grant, and only while holding the scope grantable
 * on a covering resource (an owned agent's authority capped by its owner's; the grants locked
 * `FOR SHARE`, see `loadAuthority`). One rule for people approving and for auto-approval policies,
 * which decide on their setter's authority.
 * - allowed: `{ authority }`, the grants that allow it (never empty);
 * - refused: `{ refusal }`, saying why.
 */
export async function decisionAuthority(
  tx: Tx,
  decider: Pick<IdentityRow, 'id'>,
  request: Pick<AccessRequestRow, 'requesterId' | 'identityId' | 'scope' | 'resource'>,
): Promise<{ readonly authority: ActiveGrant[] } | { readonly refusal: DecisionRefusal }> {
  if (request.requesterId === decider.id) return { refusal: 'OWN_REQUEST' };
  if (request.identityId === decider.id) return { refusal: 'GRANTEE' };
  // An approval creates an unconditional grant: authority held only under a condition would hand
  // out more than it holds (see `carriesConditions`).
  const authority = (await loadAuthority(tx, decider, [request.scope])).unconditionallyOver(
    request,
  );
  return authority.length === 0 ? { refusal: 'NO_AUTHORITY' } : { authority };
}

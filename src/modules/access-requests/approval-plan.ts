import { eq } from 'drizzle-orm';
import { conflict, forbidden } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { identities, type ScopeRow, scopes } from '../../db/tables.js';
import { describeResource } from '../grants/describe-resource.js';
import { latestExpiry } from '../grants/grant-authority.js';
import { type ActiveGrant, findLiveDuplicate } from '../grants/live-grants.js';
import { lockIdentityGrants } from '../grants/lock-identity-grants.js';
import type { ScopeRequest } from './scope-request.js';

/** What an approval will grant: of which scope, until when, counted from `decidedAt`. */
export interface ApprovalPlan {
  readonly scope: ScopeRow;
  readonly decidedAt: Date;
  readonly expiresAt: Date;
}

/**
 * Checks that `request` can be approved at `decidedAt` on `authority` (the approver's grants that
 * cover it, see `decisionAuthority`) and says what the grant will be: `ttlSeconds` from
 * `decidedAt`. Reads only (and takes the grantee's grant lock), so a refusal leaves the
 * transaction usable. Refuses with:
 * - `CONFLICT`: a disabled grantee, a ttl over the scope's current `maxTtlSeconds`, or the same
 *   grant already active;
 * - `FORBIDDEN`: a grant that would outlive the authority (`whose` names it in the message).
 */
export async function planApproval(
  tx: Tx,
  request: ScopeRequest,
  authority: readonly ActiveGrant[],
  decidedAt: Date,
  whose = 'your own grant',
): Promise<ApprovalPlan> {
  const id = request.id;
  const [target] = await tx.select().from(identities).where(eq(identities.id, request.identityId));
  if (target === undefined) throw new Error(`Identity ${request.identityId} vanished.`);
  if (target.status !== 'ACTIVE') {
    throw conflict(`Identity "${target.name}" is disabled; it cannot receive grants.`);
  }
  const [scope] = await tx.select().from(scopes).where(eq(scopes.name, request.scope));
  if (scope === undefined) throw new Error(`Scope ${request.scope} vanished.`);
  if (scope.maxTtlSeconds !== null && request.ttlSeconds > scope.maxTtlSeconds) {
    throw conflict(
      `Access request ${id} asks for ${request.ttlSeconds} seconds, but scope "${scope.name}" now allows at most ${scope.maxTtlSeconds}; deny it and ask for a new one.`,
      { maxTtlSeconds: scope.maxTtlSeconds },
    );
  }
  const now = decidedAt.getTime();
  const expiresAt = new Date(now + request.ttlSeconds * 1000);
  const latest = latestExpiry(authority);
  if (latest !== null && expiresAt.getTime() > latest.getTime()) {
    throw forbidden(
      `The grant of access request ${id} would outlive ${whose} of "${scope.name}", which ends at ${latest.toISOString()}.`,
      { required: { expiresAtOrBefore: latest.toISOString() } },
    );
  }
  await lockIdentityGrants(tx, request.identityId);
  const duplicate = await findLiveDuplicate(
    tx,
    { identityId: request.identityId },
    { scope: request.scope, role: null },
    request.resource,
  );
  if (duplicate !== undefined) {
    throw conflict(
      `Identity "${target.name}" already holds an active grant of "${request.scope}" on ${describeResource(request.resource)} (${duplicate}).`,
      { existingId: duplicate },
    );
  }
  return { scope, decidedAt, expiresAt };
}

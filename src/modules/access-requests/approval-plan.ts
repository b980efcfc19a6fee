import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import {
  type AccessRequestRow,
  type GrantRow,
  grants,
  identities,
  type ScopeRow,
  scopes,
} from '../../db/tables.js';
import { conflict, forbidden } from '../../errors.js';
import { describeResource, lockIdentityGrants } from '../grants/grant-service.js';

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
  request: AccessRequestRow,
  authority: readonly GrantRow[],
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
  const latest = authority.some((g) => g.expiresAt === null)
    ? null
    : Math.max(...authority.map((g) => (g.expiresAt as Date).getTime()));
  if (latest !== null && expiresAt.getTime() > latest) {
    throw forbidden(
      `The grant of access request ${id} would outlive ${whose} of "${scope.name}", which ends at ${new Date(latest).toISOString()}.`,
      { required: { expiresAtOrBefore: new Date(latest).toISOString() } },
    );
  }
  await lockIdentityGrants(tx, request.identityId);
  const [duplicate] = await tx
    .select({ id: grants.id })
    .from(grants)
    .where(
      and(
        eq(grants.identityId, request.identityId),
        eq(grants.scope, request.scope),
        request.resource === null ? isNull(grants.resource) : eq(grants.resource, request.resource),
        isNull(grants.revokedAt),
        or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date(now))),
      ),
    );
  if (duplicate !== undefined) {
    throw conflict(
      `Identity "${target.name}" already holds an active grant of "${request.scope}" on ${describeResource(request.resource)} (${duplicate.id}).`,
      { existingId: duplicate.id },
    );
  }
  return { scope, decidedAt, expiresAt };
}

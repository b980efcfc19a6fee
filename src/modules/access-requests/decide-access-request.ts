import { and, eq } from 'drizzle-orm';
import { conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { type AccessRequestRow, accessRequests } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { actorOf } from '../grants/grant-authority.js';
import type { ActiveGrant } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { optionalText, parseId, requireText } from '../shared/validate.js';
import { accessRequestEvent } from './access-request-events.js';
import { planApproval } from './approval-plan.js';
import { claimRequest } from './claim-request.js';
import { decisionAuthority } from './decision-authority.js';
import { grantApproval } from './grant-approval.js';
import { approveMembership } from './membership-approval.js';
import { isScopeRequest } from './scope-request.js';

type Verb = 'approve' | 'deny';

/** What a decision's transaction found: the decided request, or one it may no longer decide. */
type Outcome = { decided: AccessRequestRow } | { refused: AccessRequestRow };

/**
 * Reads the request and checks that `actor` may decide it (see `decisionAuthority`), refusing
 * with `NOT_FOUND` or `FORBIDDEN`. Returns the request and the authority grants.
 */
async function authorizeDecision(
  tx: Tx,
  actor: Caller,
  id: string,
  verb: Verb,
): Promise<{ request: AccessRequestRow; authority: ActiveGrant[] }> {
  const [request] = await tx.select().from(accessRequests).where(eq(accessRequests.id, id));
  if (request === undefined) throw notFound(`Access request ${id} does not exist.`);
  const allowed = await decisionAuthority(tx, actorOf(actor), request);
  if ('authority' in allowed) return { request, authority: allowed.authority };
  const { need } = allowed;
  const who =
    need.group === undefined
      ? `another identity holding "${need.scope}" grantable`
      : `a manager of group "${need.group.name}"`;
  switch (allowed.refusal) {
    case 'OWN_REQUEST':
      throw forbidden(`You cannot ${verb} your own access request ${id}; ${who} must decide it.`);
    case 'GRANTEE':
      throw forbidden(
        `You cannot ${verb} access request ${id}: it asks for ${need.group === undefined ? 'a grant' : 'a membership'} to you; ${who} must decide it.`,
      );
    case 'SAME_PARTY':
      throw forbidden(
        `You cannot ${verb} access request ${id}: you and the identity it is from or for are one party (one owns the other, or both have the same owner), and nobody approves their own request; ${who} outside it must decide it.`,
      );
    case 'NO_AUTHORITY':
      throw forbidden(
        need.group === undefined
          ? `Deciding access request ${id} requires holding "${need.scope}" on ${describeResource(need.resource)} with grantable: true and without a condition, and you do not.`
          : `Deciding access request ${id} to join group "${need.group.name}" requires managing it ("groups:write" on it, without a condition), and you do not.`,
        { required: { scope: need.scope, resource: need.resource, grantable: need.grantable } },
      );
  }
}

/**
 * When the claim failed: records the expiry of a pending request past its time (with
 * `accessrequest.expired`, once) and reports it, or refuses a request already decided.
 */
async function unclaimed(tx: Tx, actor: Caller, id: string): Promise<Outcome> {
  const [current] = await tx
    .select()
    .from(accessRequests)
    .where(eq(accessRequests.id, id))
    .for('update');
  if (current === undefined) throw new Error(`Access request ${id} vanished.`);
  if (current.status === 'PENDING' && current.expiresAt.getTime() <= Date.now()) {
    const [expired] = await tx
      .update(accessRequests)
      .set({ status: 'EXPIRED' })
      .where(and(eq(accessRequests.id, id), eq(accessRequests.status, 'PENDING')))
      .returning();
    if (expired === undefined) throw new Error(`Access request ${id} could not be expired.`);
    await recordChange(
      tx,
      actor,
      accessRequestEvent('accessrequest.expired', expired, {
        expiredAt: expired.expiresAt.toISOString(),
      }),
    );
    return { refused: expired };
  }
  return { refused: current };
}

function refuseUndecidable(request: AccessRequestRow): never {
  if (request.status === 'EXPIRED') {
    throw conflict(
      `Access request ${request.id} expired at ${request.expiresAt.toISOString()} without a decision; ask for a new one.`,
      { status: 'EXPIRED' },
    );
  }
  const by = request.decidedAt === null ? '' : ` at ${request.decidedAt.toISOString()}`;
  throw conflict(
    `Access request ${request.id} was already ${request.status.toLowerCase()}${by}; it can be decided only once.`,
    { status: request.status },
  );
}

/**
 * Approves a pending request and creates its grant in the same transaction: to the request's
 * identity, of its scope and resource, not grantable, for `ttlSeconds` from now, `grantedBy` the
 * approver, its reason naming the request; with `accessrequest.approved` and `grant.created`. A
 * request to join a group creates the membership instead (see `approveMembership`).
 * - unknown id: `NOT_FOUND`; the requester, the grantee, or anyone not holding the scope grantable
 *   on the resource: `FORBIDDEN`; a grant that would outlive the approver's own: `FORBIDDEN`;
 * - already decided, expired (its expiry is recorded, and kept), a ttl over the scope's current
 *   `maxTtlSeconds`, a disabled grantee, or the same grant already active: `CONFLICT`.
 */
export async function approveAccessRequest(
  database: Database,
  actor: Caller,
  rawId: string,
  rawReason?: string | null,
): Promise<AccessRequestRow> {
  const id = parseId(rawId, 'access request');
  const note = optionalText(rawReason, 'reason', 1000);
  const outcome = await runChange(database, actor, async (tx): Promise<Outcome> => {
    const { authority } = await authorizeDecision(tx, actor, id, 'approve');
    const claimed = await claimRequest(tx, id, {
      status: 'APPROVED',
      decidedBy: actor.identity.id,
      decisionReason: note,
    });
    if (claimed === null) return unclaimed(tx, actor, id);
    if (!isScopeRequest(claimed)) return { decided: await approveMembership(tx, actor, claimed) };
    // The grant's lifetime starts at the approval.
    const plan = await planApproval(tx, claimed, authority, claimed.decidedAt ?? new Date());
    const decided = await grantApproval(tx, actor, claimed, plan, {
      grantedBy: actor.identity.id,
      authority,
      note,
      policy: null,
    });
    return { decided };
  });
  if ('refused' in outcome) refuseUndecidable(outcome.refused);
  return outcome.decided;
}

/**
 * Denies a pending request, with `accessrequest.denied` and the reason (required). Refused like
 * an approval: `NOT_FOUND`, `FORBIDDEN` (requester, grantee, non-holder), `CONFLICT` (decided or
 * expired); an empty reason is `BAD_USER_INPUT`.
 */
export async function denyAccessRequest(
  database: Database,
  actor: Caller,
  rawId: string,
  rawReason: string,
): Promise<AccessRequestRow> {
  const id = parseId(rawId, 'access request');
  const reason = requireText(rawReason, 'reason', 1000);
  const outcome = await runChange(database, actor, async (tx): Promise<Outcome> => {
    await authorizeDecision(tx, actor, id, 'deny');
    const claimed = await claimRequest(tx, id, {
      status: 'DENIED',
      decidedBy: actor.identity.id,
      decisionReason: reason,
    });
    if (claimed === null) return unclaimed(tx, actor, id);
    await recordChange(
      tx,
      actor,
      accessRequestEvent('accessrequest.denied', claimed, { decisionReason: reason }),
    );
    return { decided: claimed };
  });
  if ('refused' in outcome) refuseUndecidable(outcome.refused);
  return outcome.decided;
}

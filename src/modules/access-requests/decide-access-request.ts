import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client.js';
import {
  type AccessRequestRow,
  accessRequests,
  type GrantRow,
  grants,
  identities,
  scopes,
} from '../../db/tables.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import { authorityFor, loadAuthority } from '../grants/grant-authority.js';
import { grantCreated, sensitiveFlag } from '../grants/grant-events.js';
import { describeResource, lockIdentityGrants } from '../grants/grant-service.js';
import type { Caller } from '../keys/authenticate.js';
import { runChange } from '../revision/run-change.js';
import { optionalText, parseId, requireText } from '../shared/validate.js';
import { accessRequestEvent } from './access-request-events.js';

type Verb = 'approve' | 'deny';

/** What a decision's transaction found: the decided request, or one it may no longer decide. */
type Outcome = { decided: AccessRequestRow } | { refused: AccessRequestRow };

/**
 * Reads the request and checks that `actor` may decide it: never the requester nor the identity
 * that would hold the grant (two-person rule), and only while holding the scope grantable on the
 * request's resource. Returns the request and the authority grants.
 */
async function authorizeDecision(
  tx: Tx,
  actor: Caller,
  id: string,
  verb: Verb,
): Promise<{ request: AccessRequestRow; authority: GrantRow[] }> {
  const [request] = await tx.select().from(accessRequests).where(eq(accessRequests.id, id));
  if (request === undefined) throw notFound(`Access request ${id} does not exist.`);
  if (request.requesterId === actor.identity.id) {
    throw forbidden(
      `You cannot ${verb} your own access request ${id}; another identity holding "${request.scope}" grantable must decide it.`,
    );
  }
  if (request.identityId === actor.identity.id) {
    throw forbidden(
      `You cannot ${verb} access request ${id}: it asks for a grant to you; another identity holding "${request.scope}" grantable must decide it.`,
    );
  }
  const authority = authorityFor(
    await loadAuthority(tx, actor.identity, [request.scope]),
    request.scope,
    request.resource,
  );
  if (authority.length === 0) {
    throw forbidden(
      `Deciding access request ${id} requires holding "${request.scope}" on ${describeResource(request.resource)} with grantable: true, and you do not.`,
      { required: { scope: request.scope, resource: request.resource, grantable: true } },
    );
  }
  return { request, authority };
}

/**
 * Moves a still-pending request to `status`, if no other decision got there first: the UPDATE's
 * `status = 'PENDING'` condition is re-checked under the row lock, so of two concurrent decisions
 * exactly one returns a row. `null` when the request is no longer pending or has expired.
 */
async function claim(
  tx: Tx,
  actor: Caller,
  id: string,
  status: 'APPROVED' | 'DENIED',
  decisionReason: string | null,
): Promise<AccessRequestRow | null> {
  const now = new Date();
  const [row] = await tx
    .update(accessRequests)
    .set({ status, decidedAt: now, decidedBy: actor.identity.id, decisionReason })
    .where(
      and(
        eq(accessRequests.id, id),
        eq(accessRequests.status, 'PENDING'),
        gt(accessRequests.expiresAt, now),
      ),
    )
    .returning();
  return row ?? null;
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
 * approver, its reason naming the request; with `accessrequest.approved` and `grant.created`.
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
    const claimed = await claim(tx, actor, id, 'APPROVED', note);
    if (claimed === null) return unclaimed(tx, actor, id);

    const [target] = await tx
      .select()
      .from(identities)
      .where(eq(identities.id, claimed.identityId));
    if (target === undefined) throw new Error(`Identity ${claimed.identityId} vanished.`);
    if (target.status !== 'ACTIVE') {
      throw conflict(`Identity "${target.name}" is disabled; it cannot receive grants.`);
    }
    const [scope] = await tx.select().from(scopes).where(eq(scopes.name, claimed.scope));
    if (scope === undefined) throw new Error(`Scope ${claimed.scope} vanished.`);
    if (scope.maxTtlSeconds !== null && claimed.ttlSeconds > scope.maxTtlSeconds) {
      throw conflict(
        `Access request ${id} asks for ${claimed.ttlSeconds} seconds, but scope "${scope.name}" now allows at most ${scope.maxTtlSeconds}; deny it and ask for a new one.`,
        { maxTtlSeconds: scope.maxTtlSeconds },
      );
    }
    // The grant's lifetime starts at the approval.
    const decidedAt = claimed.decidedAt ?? new Date();
    const now = decidedAt.getTime();
    const expiresAt = new Date(now + claimed.ttlSeconds * 1000);
    const latest = authority.some((g) => g.expiresAt === null)
      ? null
      : Math.max(...authority.map((g) => (g.expiresAt as Date).getTime()));
    if (latest !== null && expiresAt.getTime() > latest) {
      throw forbidden(
        `The grant of access request ${id} would outlive your own grant of "${scope.name}", which ends at ${new Date(latest).toISOString()}.`,
        { required: { expiresAtOrBefore: new Date(latest).toISOString() } },
      );
    }
    await lockIdentityGrants(tx, claimed.identityId);
    const [duplicate] = await tx
      .select({ id: grants.id })
      .from(grants)
      .where(
        and(
          eq(grants.identityId, claimed.identityId),
          eq(grants.scope, claimed.scope),
          claimed.resource === null
            ? isNull(grants.resource)
            : eq(grants.resource, claimed.resource),
          isNull(grants.revokedAt),
          or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date(now))),
        ),
      );
    if (duplicate !== undefined) {
      throw conflict(
        `Identity "${target.name}" already holds an active grant of "${claimed.scope}" on ${describeResource(claimed.resource)} (${duplicate.id}).`,
        { existingId: duplicate.id },
      );
    }
    const reason = `Access request ${id}: ${claimed.reason}`;
    const [grant] = await tx
      .insert(grants)
      .values({
        identityId: claimed.identityId,
        scope: claimed.scope,
        resource: claimed.resource,
        reason,
        grantedBy: actor.identity.id,
        grantable: false,
        createdAt: decidedAt,
        expiresAt,
      })
      .returning();
    if (grant === undefined) throw new Error('Insert returned no grant row.');
    const [decided] = await tx
      .update(accessRequests)
      .set({ grantId: grant.id })
      .where(eq(accessRequests.id, id))
      .returning();
    if (decided === undefined) throw new Error('Update returned no access request row.');
    const flag = sensitiveFlag(scope);
    await recordChange(
      tx,
      actor,
      accessRequestEvent('accessrequest.approved', decided, {
        grantId: grant.id,
        ...(note === null ? {} : { decisionReason: note }),
        ...flag,
      }),
    );
    await recordChange(
      tx,
      actor,
      grantCreated(grant, reason, {
        accessRequestId: id,
        authorityGrantIds: authority.map((g) => g.id),
        ...flag,
      }),
    );
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
    const claimed = await claim(tx, actor, id, 'DENIED', reason);
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

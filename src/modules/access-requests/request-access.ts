import { and, eq, gt, isNull } from 'drizzle-orm';
import { badUserInput, conflict, invariant, notFound } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, accessRequests, identities, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { lockIdentityGrants } from '../grants/lock-identity-grants.js';
import { parseResourcePattern } from '../grants/resource-pattern.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { requireScopeName, requireText } from '../shared/validate.js';
import { accessRequestEvent } from './access-request-events.js';
import { considerAutoApproval } from './auto-approval.js';
import { claimRequest } from './claim-request.js';
import { grantApproval } from './grant-approval.js';
import { requestMembership } from './request-membership.js';
import { requestedIdentity, requestTarget, requireRequestTtl } from './request-target.js';
import { isScopeRequest } from './scope-request.js';

/** `RequestAccessInput` as clients send it. */
export interface RequestAccessInput {
  /** Who would hold the grant or membership: the caller (default) or an identity it owns. */
  readonly identityId?: string | null;
  /** The scope asked for; or `groupId`. */
  readonly scope?: string | null;
  /** The group asked to join; or `scope`. */
  readonly groupId?: string | null;
  readonly resource?: string | null;
  /** How long the grant or membership lasts once approved, counted from the approval. */
  readonly ttlSeconds: number;
  readonly reason: string;
}

/**
 * Asks for a temporary grant, or (`groupId`) a temporary membership (see `requestMembership`),
 * for the caller or an identity it owns (`identities.owner_id`), with an `accessrequest.created`
 * event. The request waits for a decision for `pendingTtlSeconds`.
 * - malformed input (neither or both of `scope` and `groupId`), or a ttl over the scope's
 *   `maxTtlSeconds`: `BAD_USER_INPUT`;
 * - unknown identity or scope: `NOT_FOUND`; an identity neither the caller nor owned by it:
 *   `FORBIDDEN`; a disabled identity, or the same request already pending: `CONFLICT`;
 * - when the scope's policy has an auto-approval condition, it is considered in the same
 *   transaction (see `considerAutoApproval`) and `accessrequest.created` says how it went
 *   (`details.autoApproval`). When it applies, the request is approved at once through the same
 *   path as a person's approval (`grantApproval`: the grant, `accessrequest.approved`,
 *   `grant.created`, alerts), with `decidedBy` null (no person decided), `approvedByPolicy` the
 *   scope, and the grant made by the policy's setter. Otherwise it stays PENDING: the condition
 *   never fails the request.
 */
export async function requestAccess(
  database: Database,
  actor: Caller,
  input: RequestAccessInput,
  pendingTtlSeconds: number,
): Promise<AccessRequestRow> {
  const wantsGroup = input.groupId !== null && input.groupId !== undefined;
  const wantsScope = input.scope !== null && input.scope !== undefined;
  if (wantsGroup === wantsScope) {
    throw badUserInput(
      'An access request asks for either a scope (scope) or a membership (groupId): give exactly one.',
      { field: wantsGroup ? 'groupId' : 'scope' },
    );
  }
  if (wantsGroup) return requestMembership(database, actor, input, pendingTtlSeconds);
  const identityId = requestedIdentity(actor, input);
  const scopeName = requireScopeName(input.scope as string, 'scope').name;
  const resource = parseResourcePattern(input.resource);
  const reason = requireText(input.reason, 'reason', 1000);
  const ttl = requireRequestTtl(input.ttlSeconds);

  return runChange(database, actor, async (tx) => {
    const target = await requestTarget(tx, actor, identityId);
    const [scope] = await tx.select().from(scopes).where(eq(scopes.name, scopeName));
    if (scope === undefined) throw notFound(`Scope "${scopeName}" is not defined.`);
    if (scope.maxTtlSeconds !== null && ttl > scope.maxTtlSeconds) {
      throw badUserInput(
        `Scope "${scope.name}" allows grants of at most ${scope.maxTtlSeconds} seconds; this request asks for ${ttl}.`,
        { field: 'ttlSeconds', maxTtlSeconds: scope.maxTtlSeconds },
      );
    }
    // One pending request per identity, scope and resource: serialised like grants to the identity.
    await lockIdentityGrants(tx, identityId);
    const [pending] = await tx
      .select({ id: accessRequests.id })
      .from(accessRequests)
      .where(
        and(
          eq(accessRequests.identityId, identityId),
          eq(accessRequests.scope, scopeName),
          resource === null
            ? isNull(accessRequests.resource)
            : eq(accessRequests.resource, resource),
          eq(accessRequests.status, 'PENDING'),
          gt(accessRequests.expiresAt, new Date()),
        ),
      );
    if (pending !== undefined) {
      throw conflict(
        `Identity "${target.name}" already has a pending request for "${scopeName}" on ${describeResource(resource)} (${pending.id}).`,
        { existingId: pending.id },
      );
    }
    const now = new Date();
    const [row] = await tx
      .insert(accessRequests)
      .values({
        requesterId: actor.identity.id,
        identityId,
        scope: scopeName,
        resource,
        ttlSeconds: ttl,
        reason,
        createdAt: now,
        expiresAt: new Date(now.getTime() + pendingTtlSeconds * 1000),
      })
      .returning();
    if (row === undefined || !isScopeRequest(row)) {
      throw new Error('Insert returned no access request row.');
    }
    const requester =
      target.id === actor.identity.id
        ? target
        : (await tx.select().from(identities).where(eq(identities.id, actor.identity.id)))[0];
    if (requester === undefined) throw new Error(`Identity ${actor.identity.id} vanished.`);
    const verdict = await considerAutoApproval(tx, scope, row, requester);
    await recordChange(
      tx,
      actor,
      accessRequestEvent('accessrequest.created', row, {
        ...(verdict === null ? {} : { autoApproval: verdict.details }),
        ...(scope.sensitive ? { sensitive: true } : {}),
      }),
    );
    if (verdict === null || verdict.approve === null) return row;
    const { setter, authority, plan } = verdict.approve;
    const claimed = await claimRequest(tx, row.id, {
      status: 'APPROVED',
      decidedBy: null,
      decisionReason: verdict.details.reason,
      approvedByPolicy: scope.name,
      at: plan.decidedAt,
    });
    invariant(
      claimed !== null && isScopeRequest(claimed),
      'A request inserted in this transaction is still pending.',
    );
    return grantApproval(tx, actor, claimed, plan, {
      grantedBy: setter.id,
      authority,
      note: null,
      policy: {
        approvedByPolicy: scope.name,
        condition: verdict.details.condition,
        setBy: setter.id,
      },
    });
  });
}

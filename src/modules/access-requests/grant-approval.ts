import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { type AccessRequestRow, accessRequests, grants } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { grantCreated, sensitiveFlag } from '../grants/grant-events.js';
import type { ActiveGrant } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';
import { accessRequestEvent } from './access-request-events.js';
import type { ApprovalPlan } from './approval-plan.js';
import type { ScopeRequest } from './scope-request.js';

/** The auto-approval policy that approved a request, as its events record it. */
export interface PolicyApproval {
  /** The scope whose `autoApprove` condition matched. */
  readonly approvedByPolicy: string;
  readonly condition: string;
  /** The policy's setter, on whose authority the grant is made. */
  readonly setBy: string;
}

/** Who approved a claimed request, and on what authority. */
export interface Approval {
  /** The grant's `grantedBy`: the approver, or the policy's setter. */
  readonly grantedBy: string;
  /** The grants that allow `grantedBy` to approve it (see `decisionAuthority`). */
  readonly authority: readonly ActiveGrant[];
  /** The approver's note. */
  readonly note: string | null;
  /** Set when a policy approved, not a person. */
  readonly policy: PolicyApproval | null;
}

/**
 * Creates the grant of a claimed (now APPROVED) request as `plan` says: to the request's identity,
 * of its scope and resource, not grantable, `grantedBy` the approver, its reason naming the
 * request; links it to the request; writes `accessrequest.approved` and `grant.created` (flagged
 * sensitive for a sensitive scope, so alerts fire), both with `approvedByPolicy`, `condition` and
 * `setBy` when a policy approved. The one way an approval grants, for people and policies alike.
 */
export async function grantApproval(
  tx: Tx,
  actor: Caller,
  claimed: ScopeRequest,
  plan: ApprovalPlan,
  approval: Approval,
): Promise<AccessRequestRow> {
  const reason = `Access request ${claimed.id}: ${claimed.reason}`;
  const [grant] = await tx
    .insert(grants)
    .values({
      identityId: claimed.identityId,
      scope: claimed.scope,
      resource: claimed.resource,
      reason,
      grantedBy: approval.grantedBy,
      grantable: false,
      createdAt: plan.decidedAt,
      expiresAt: plan.expiresAt,
      authorizedBy: approval.authority.map((g) => g.id),
    })
    .returning();
  if (grant === undefined) throw new Error('Insert returned no grant row.');
  const [decided] = await tx
    .update(accessRequests)
    .set({ grantId: grant.id })
    .where(eq(accessRequests.id, claimed.id))
    .returning();
  if (decided === undefined) throw new Error('Update returned no access request row.');
  const flag = sensitiveFlag(plan.scope);
  const policy = approval.policy === null ? {} : { ...approval.policy };
  await recordChange(
    tx,
    actor,
    accessRequestEvent('accessrequest.approved', decided, {
      grantId: grant.id,
      ...(approval.note === null ? {} : { decisionReason: approval.note }),
      ...policy,
      ...flag,
    }),
  );
  await recordChange(
    tx,
    actor,
    grantCreated(grant, reason, {
      accessRequestId: claimed.id,
      authorityGrantIds: approval.authority.map((g) => g.id),
      ...policy,
      ...flag,
    }),
  );
  return decided;
}

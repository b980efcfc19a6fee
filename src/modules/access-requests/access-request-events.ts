import type { AccessRequestRow } from '../../db/tables.js';
import type { AuditAction } from '../audit/audit-actions.js';
import type { ChangeEvent } from '../audit/record-change.js';

type Step = Extract<AuditAction, `accessrequest.${string}`>;

/**
 * The audit event of one step of an access request: what was asked, for whom, its status after
 * the step, and `more` (the grant or membership an approval made, a decision's reason). Every
 * step names the scope (or the group asked to join), so search and webhooks by scope find the
 * whole story.
 */
export function accessRequestEvent(
  action: Step,
  request: AccessRequestRow,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action,
    subjectId: request.id,
    scopes: request.scope === null ? [] : [request.scope],
    details: {
      after: {
        requesterId: request.requesterId,
        identityId: request.identityId,
        scope: request.scope,
        resource: request.resource,
        ...(request.groupId === null ? {} : { groupId: request.groupId }),
        ttlSeconds: request.ttlSeconds,
        status: request.status,
        expiresAt: request.expiresAt.toISOString(),
      },
      reason: request.reason,
      ...more,
    },
  };
}

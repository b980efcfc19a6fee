import type { GrantRow, ScopeRow } from '../../db/tables.js';
import type { ChangeEvent } from '../audit/record-change.js';

type GrantFacts = Pick<GrantRow, 'id' | 'identityId' | 'scope' | 'resource'>;

/** The audit event of a new grant: what it gives, to whom, until when, and why. */
export function grantCreated(
  grant: GrantFacts & Pick<GrantRow, 'grantable' | 'expiresAt'> & { condition?: string | null },
  reason: string,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action: 'grant.created',
    subjectId: grant.id,
    scopes: [grant.scope],
    details: {
      after: {
        identityId: grant.identityId,
        scope: grant.scope,
        resource: grant.resource,
        grantable: grant.grantable,
        expiresAt: grant.expiresAt?.toISOString() ?? null,
        ...(grant.condition ? { condition: grant.condition } : {}),
      },
      reason,
      ...more,
    },
  };
}

/** The audit event of a revocation: what the grant gave, whether it still did, and why. */
export function grantRevoked(
  grant: GrantFacts,
  active: boolean,
  reason: string,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action: 'grant.revoked',
    subjectId: grant.id,
    scopes: [grant.scope],
    details: {
      before: {
        identityId: grant.identityId,
        scope: grant.scope,
        resource: grant.resource,
        active,
      },
      reason,
      ...more,
    },
  };
}

/**
 * `{ sensitive: true }` for an event about a sensitive scope (spread into its details), so alerts
 * and searches can pick it out; nothing for other scopes.
 */
export function sensitiveFlag(scope: Pick<ScopeRow, 'sensitive'>): { sensitive?: true } {
  return scope.sensitive ? { sensitive: true } : {};
}

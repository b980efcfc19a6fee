import type { GrantRow, ScopeRow } from '../../db/tables.js';
import type { ChangeEvent } from '../audit/record-change.js';

type GrantFacts = Pick<GrantRow, 'id' | 'identityId' | 'scope' | 'resource'> &
  Partial<Pick<GrantRow, 'groupId' | 'role'>>;

/**
 * Who holds a grant and of what, as events record it: `identityId` or `groupId`, `scope` or
 * `role` (a direct grant of a scope keeps the shape it always had), and `resource`.
 */
export function grantFacts(grant: GrantFacts): Record<string, unknown> {
  return {
    ...(grant.groupId ? { groupId: grant.groupId } : { identityId: grant.identityId }),
    ...(grant.role ? { role: grant.role } : { scope: grant.scope }),
    resource: grant.resource,
  };
}

/**
 * The scopes an event about `grant` is found by (audit search, webhooks by scope): its scope, or
 * the role's scopes given in `roleScopes`.
 */
export function eventScopes(grant: GrantFacts, roleScopes: readonly string[] = []): string[] {
  return grant.scope === null ? [...new Set(roleScopes)].sort() : [grant.scope];
}

/** The audit event of a new grant: what it gives, to whom, until when, and why. */
export function grantCreated(
  grant: GrantFacts & Pick<GrantRow, 'grantable' | 'expiresAt'> & { condition?: string | null },
  reason: string,
  more: Record<string, unknown> = {},
  roleScopes: readonly string[] = [],
): ChangeEvent {
  return {
    action: 'grant.created',
    subjectId: grant.id,
    scopes: eventScopes(grant, roleScopes),
    details: {
      after: {
        ...grantFacts(grant),
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
  roleScopes: readonly string[] = [],
): ChangeEvent {
  return {
    action: 'grant.revoked',
    subjectId: grant.id,
    scopes: eventScopes(grant, roleScopes),
    details: {
      before: {
        ...grantFacts(grant),
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

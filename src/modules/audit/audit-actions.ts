/**
 * Every action the audit log records, `<noun>.<verb>`. Writers are typed against this list, and
 * search expands an action prefix (`grant.`) to the actions it names, so the list must be complete.
 */
export const AUDIT_ACTIONS = [
  'identity.created',
  'identity.disabled',
  'identity.attributes_changed',
  'identity.enabled',
  'identity.renamed',
  'apikey.created',
  'apikey.revoked',
  'scope.defined',
  'scope.policy_changed',
  'scope.reaping_changed',
  'scope.aliases_changed',
  'grant.created',
  'grant.revoked',
  'grant.expired',
  'group.created',
  'group.deleted',
  'group.renamed',
  'group.member_added',
  'group.member_removed',
  'group.member_renewed',
  'group.token_feed_changed',
  'role.defined',
  'role.scopes_changed',
  'role.deleted',
  'accessrequest.created',
  'accessrequest.approved',
  'accessrequest.denied',
  'accessrequest.expired',
  'accessreview.started',
  'accessreview.item_decided',
  'accessreview.closed',
  'webhook.created',
  'webhook.disabled',
  'webhook.paused',
  'webhook.resumed',
  'access.allowed',
  'access.denied',
  'auth.failed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The actions an access decision is written as: denied when any field was denied. */
export const ACCESS_ACTIONS = {
  ALLOWED: 'access.allowed',
  DENIED: 'access.denied',
} as const satisfies Record<string, AuditAction>;

/** The catalogued actions that start with `prefix`. */
export function actionsWithPrefix(prefix: string): AuditAction[] {
  return AUDIT_ACTIONS.filter((action) => action.startsWith(prefix));
}

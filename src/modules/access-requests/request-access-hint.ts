import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { identities, type ScopeRow } from '../../db/tables.js';
import { considerAutoApproval } from './auto-approval.js';

/** How long a suggested request lasts when the scope's policy sets no limit: one hour. */
export const DEFAULT_REQUEST_TTL_SECONDS = 3600;

/**
 * What a `FORBIDDEN` answer offers as the way in: the input of a `requestAccess` that would ask
 * for what was missing, so any tool can turn a denial into a one-click just-in-time request.
 * - `scope`, `resource`: the first missing scope, and the resource it was needed on (null: every
 *   resource);
 * - `ttlSeconds`: the scope policy's longest grant, or `DEFAULT_REQUEST_TTL_SECONDS` without one;
 * - `requiresApproval`: whether only an approved request obtains the scope;
 * - `autoApproved`: whether the scope's auto-approval condition would approve that request from
 *   this identity now (evaluated with an empty reason; a condition that reads the reason may
 *   decide otherwise once one is given). False when the scope has none.
 */
export interface RequestAccessHint {
  readonly scope: string;
  readonly resource: string | null;
  readonly ttlSeconds: number;
  readonly requiresApproval: boolean;
  readonly autoApproved: boolean;
}

/**
 * The hint for `identityId` missing `scope` on `resource`, or `null` when the scope is not
 * defined (nothing could be requested). Reads only; the auto-approval dry run opens a transaction
 * that writes nothing.
 */
export async function requestAccessHint(
  database: Database,
  identityId: string,
  scope: ScopeRow | null,
  resource: string | null,
): Promise<RequestAccessHint | null> {
  if (scope === null) return null;
  const ttlSeconds = scope.maxTtlSeconds ?? DEFAULT_REQUEST_TTL_SECONDS;
  const hint = {
    scope: scope.name,
    resource,
    ttlSeconds,
    requiresApproval: scope.requiresApproval,
    autoApproved: false,
  };
  if (scope.autoApproveCondition === null) return hint;
  const autoApproved = await database.db.transaction(async (tx) => {
    const [requester] = await tx.select().from(identities).where(eq(identities.id, identityId));
    if (requester === undefined || requester.status !== 'ACTIVE') return false;
    const now = new Date();
    const verdict = await considerAutoApproval(
      tx,
      scope,
      {
        id: '00000000-0000-0000-0000-000000000000',
        requesterId: identityId,
        identityId,
        scope: scope.name,
        resource,
        groupId: null,
        ttlSeconds,
        reason: '',
        status: 'PENDING',
        createdAt: now,
        expiresAt: now,
        decidedAt: null,
        decidedBy: null,
        decisionReason: null,
        grantId: null,
        membershipId: null,
        approvedByPolicy: null,
      },
      requester,
    );
    return verdict?.details.applied === true;
  });
  return { ...hint, autoApproved };
}

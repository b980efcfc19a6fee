import { and, inArray, isNotNull } from 'drizzle-orm';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import type { Db, Tx } from '../../db/client.js';
import { scopes } from '../../db/tables.js';
import { isUnconditional } from '../grants/grant-authority.js';
import { loadLiveGrants } from '../grants/live-grants.js';

/**
 * What `createWebhook` needs, and so what a webhook's owner must hold for as long as it receives
 * anything: deliveries carry audit events, so nobody receives what they may not read now.
 */
export const WEBHOOK_SCOPES = ['webhooks:write', 'webhooks:read', 'audit:read'] as const;

/** Whether each owner may receive deliveries now, and if not, why (a sentence). */
export type OwnerRights = ReadonlyMap<
  string,
  { readonly ok: true } | { readonly ok: false; readonly why: string }
>;

/**
 * Whether each of `ownerIds` holds every `WEBHOOK_SCOPES` scope now, on every resource: an active
 * identity with a live grant (direct, through groups or roles, owner-capped) without a condition,
 * of a scope without a policy condition. A delivery has no request to evaluate a condition
 * against, so a conditional right does not count (fail closed). One read for all owners.
 */
export async function webhookOwnerRights(
  db: Db | Tx,
  ownerIds: readonly string[],
  now = Date.now(),
): Promise<OwnerRights> {
  const rights = new Map<string, { ok: true } | { ok: false; why: string }>();
  if (ownerIds.length === 0) return rights;
  const { identities, grants } = await loadLiveGrants(db, ownerIds, {
    scopes: [...WEBHOOK_SCOPES],
  });
  const conditional = new Set(
    (
      await db
        .select({ name: scopes.name })
        .from(scopes)
        .where(and(inArray(scopes.name, [...WEBHOOK_SCOPES]), isNotNull(scopes.condition)))
    ).map((r) => r.name),
  );
  for (const id of new Set(ownerIds)) {
    const identity = identities.get(id);
    if (identity === undefined || identity.status !== 'ACTIVE') {
      rights.set(id, {
        ok: false,
        why: `its owner ${identity === undefined ? id : `"${identity.name}"`} is disabled or gone`,
      });
      continue;
    }
    const set = new GrantSet((grants.get(id) ?? []).filter(isUnconditional));
    const lacking = WEBHOOK_SCOPES.filter(
      (scope) => conditional.has(scope) || set.covering(scope, null, now) === null,
    );
    rights.set(
      id,
      lacking.length === 0
        ? { ok: true }
        : {
            ok: false,
            why: `its owner "${identity.name}" no longer holds ${lacking.map((s) => `"${s}"`).join(', ')} on every resource without a condition`,
          },
    );
  }
  return rights;
}

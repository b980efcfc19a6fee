import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { capToOwner } from '../../authz/cap-to-owner.js';
import type { Database } from '../../db/client.js';
import { grants, type IdentityRow, identities } from '../../db/tables.js';
import type { ActiveGrant } from '../keys/authenticate.js';

/** Whether an identity's grants are capped by its owner's: an AGENT with an owner. */
export function isCappedByOwner(identity: Pick<IdentityRow, 'kind' | 'ownerId'>): boolean {
  return identity.kind === 'AGENT' && identity.ownerId !== null;
}

/**
 * Loads the rows and live grants (as held, uncapped) of `ids` in one statement, adding them to the
 * maps given; unknown ids add nothing.
 */
export async function loadHoldings(
  database: Database,
  ids: readonly string[],
  rows: Map<string, IdentityRow>,
  held: Map<string, ActiveGrant[]>,
): Promise<void> {
  const now = new Date();
  const loaded = await database.db
    .select({
      identity: identities,
      grant: {
        id: grants.id,
        identityId: grants.identityId,
        scope: grants.scope,
        resource: grants.resource,
        expiresAt: grants.expiresAt,
        grantable: grants.grantable,
        condition: grants.condition,
      },
    })
    .from(identities)
    .leftJoin(
      grants,
      and(
        eq(grants.identityId, identities.id),
        isNull(grants.revokedAt),
        or(isNull(grants.expiresAt), gt(grants.expiresAt, now)),
      ),
    )
    .where(inArray(identities.id, [...ids]));
  for (const { identity, grant } of loaded) {
    rows.set(identity.id, identity);
    const list = held.get(identity.id) ?? [];
    held.set(identity.id, list);
    if (grant !== null) list.push(grant);
  }
}

/**
 * The live grants decisions use for each identity in `held`: an owned agent's are capped by its
 * owner's (see `capToOwner`; nothing while the owner is disabled), everyone else's are as held.
 * Owners missing from `rows` are loaded (one statement, only when an agent's owner is missing) and
 * added to both maps, so callers can prime their loaders with them.
 */
export async function capAgentsToOwners(
  database: Database,
  rows: Map<string, IdentityRow>,
  held: Map<string, ActiveGrant[]>,
): Promise<Map<string, readonly ActiveGrant[]>> {
  const missing = new Set<string>();
  for (const id of held.keys()) {
    const identity = rows.get(id);
    if (identity?.ownerId && isCappedByOwner(identity) && !held.has(identity.ownerId)) {
      missing.add(identity.ownerId);
    }
  }
  if (missing.size > 0) await loadHoldings(database, [...missing], rows, held);
  const effective = new Map<string, readonly ActiveGrant[]>();
  for (const [id, list] of held) {
    const identity = rows.get(id);
    if (identity?.ownerId && isCappedByOwner(identity)) {
      const owner = rows.get(identity.ownerId);
      const ownerActive = owner !== undefined && owner.status === 'ACTIVE';
      effective.set(id, capToOwner(list, ownerActive ? (held.get(owner.id) ?? []) : null));
    } else {
      effective.set(id, list);
    }
  }
  return effective;
}

import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { capToOwner } from '../../authz/cap-to-owner.js';
import { resourceCovers } from '../../authz/grant-set.js';
import type { Tx } from '../../db/client.js';
import { type GrantRow, grants, type IdentityRow, identities } from '../../db/tables.js';
import { isCappedByOwner } from '../identities/cap-agents.js';

/**
 * The actor's live grantable grants (of `scopes`, when given), read inside the transaction and
 * locked `FOR SHARE` so a concurrent revocation waits for the delegation to finish, or the
 * delegation sees it. An owned agent's are capped by its owner's (locked the same way): an agent
 * hands out nothing its owner could not.
 */
export function loadAuthority(
  tx: Tx,
  actor: Pick<IdentityRow, 'id' | 'kind' | 'ownerId'>,
  scopes?: readonly string[],
): Promise<GrantRow[]> {
  return loadCapped(tx, actor, scopes, true);
}

/** Like `loadAuthority`, but every live grant, grantable or not. */
export function loadLiveGrants(
  tx: Tx,
  actor: Pick<IdentityRow, 'id' | 'kind' | 'ownerId'>,
  scopes?: readonly string[],
): Promise<GrantRow[]> {
  return loadCapped(tx, actor, scopes, false);
}

async function loadCapped(
  tx: Tx,
  actor: Pick<IdentityRow, 'id' | 'kind' | 'ownerId'>,
  scopes: readonly string[] | undefined,
  grantableOnly: boolean,
): Promise<GrantRow[]> {
  const held = await loadHeld(tx, actor.id, scopes, grantableOnly);
  if (actor.ownerId === null || !isCappedByOwner(actor)) return held;
  const [owner] = await tx
    .select({ status: identities.status })
    .from(identities)
    .where(eq(identities.id, actor.ownerId))
    .for('share');
  if (owner?.status !== 'ACTIVE') return [];
  return capToOwner(held, await loadHeld(tx, actor.ownerId, scopes, grantableOnly));
}

async function loadHeld(
  tx: Tx,
  identityId: string,
  scopes: readonly string[] | undefined,
  grantableOnly: boolean,
): Promise<GrantRow[]> {
  const conditions = [
    eq(grants.identityId, identityId),
    isNull(grants.revokedAt),
    or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date())),
  ];
  if (grantableOnly) conditions.push(eq(grants.grantable, true));
  if (scopes !== undefined) conditions.push(inArray(grants.scope, [...scopes]));
  return tx
    .select()
    .from(grants)
    .where(and(...conditions))
    .for('share');
}

/** The authority grants that let the actor hand out `scope` on `resource` (null: every instance). */
export function authorityFor(
  authority: readonly GrantRow[],
  scope: string,
  resource: string | null,
): GrantRow[] {
  return authority.filter((g) => g.scope === scope && resourceCovers(g.resource, resource));
}

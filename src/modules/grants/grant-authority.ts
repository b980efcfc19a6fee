import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { resourceCovers } from '../../authz/grant-set.js';
import type { Tx } from '../../db/client.js';
import { type GrantRow, grants } from '../../db/tables.js';

/**
 * The actor's live grantable grants (of `scopes`, when given), read inside the transaction and
 * locked `FOR SHARE` so a concurrent revocation waits for the delegation to finish, or the
 * delegation sees it.
 */
export async function loadAuthority(
  tx: Tx,
  identityId: string,
  scopes?: readonly string[],
): Promise<GrantRow[]> {
  const conditions = [
    eq(grants.identityId, identityId),
    eq(grants.grantable, true),
    isNull(grants.revokedAt),
    or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date())),
  ];
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

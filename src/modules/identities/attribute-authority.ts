import { and, inArray, isNotNull, or } from 'drizzle-orm';
import { forbidden } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { scopes } from '../../db/tables.js';
import { actorOf, loadAuthority } from '../grants/grant-authority.js';
import { loadLiveGrants } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';

/** Whether a condition's text reads attributes (`identity.attributes`, `requester.attributes`). */
const readsAttributes = (condition: string | null | undefined): boolean =>
  condition?.includes('attributes') === true;

/**
 * The scopes whose decisions could change for `identityId` (null: an identity not created yet)
 * if its attributes changed: those of its live grants whose own, owner's or scope-policy condition
 * reads attributes, and every scope whose auto-approval condition does (it reads the requester's).
 * A condition is taken to read attributes when its text names them, so this errs toward more.
 */
export async function scopesUnlockedByAttributes(
  tx: Tx,
  identityId: string | null,
): Promise<string[]> {
  const unlocked = new Set<string>();
  const held =
    identityId === null
      ? []
      : // Every TOKEN membership too: whichever token the identity signs in with next.
        ((
          await loadLiveGrants(tx, [identityId], { lock: true, tokenMemberships: 'all' })
        ).grants.get(identityId) ?? []);
  for (const grant of held) {
    if (readsAttributes(grant.condition) || readsAttributes(grant.ownerCondition)) {
      unlocked.add(grant.scope);
    }
  }
  const heldScopes = [...new Set(held.map((g) => g.scope))];
  const policed = await tx
    .select({
      name: scopes.name,
      condition: scopes.condition,
      autoApprove: scopes.autoApproveCondition,
    })
    .from(scopes)
    .where(
      or(
        isNotNull(scopes.autoApproveCondition),
        heldScopes.length === 0
          ? undefined
          : and(inArray(scopes.name, heldScopes), isNotNull(scopes.condition)),
      ),
    );
  const heldSet = new Set(heldScopes);
  for (const scope of policed) {
    if (readsAttributes(scope.autoApprove)) unlocked.add(scope.name);
    if (heldSet.has(scope.name) && readsAttributes(scope.condition)) unlocked.add(scope.name);
  }
  return [...unlocked].sort();
}

/**
 * Throws `FORBIDDEN` unless `actor` may set the attributes of `identityId` (null: one it is
 * creating): attributes are read by conditions, so they are authority like grants.
 * - nobody sets their own;
 * - the actor must hold, grantable, on every resource and without a condition, every scope the
 *   change could unlock (`scopesUnlockedByAttributes`): what it could have granted outright. So an
 *   owner cannot make its service's conditions true either, unless it could have granted the
 *   service those scopes without them.
 */
export async function assertMaySetAttributes(
  tx: Tx,
  actor: Caller,
  identityId: string | null,
  name: string,
): Promise<void> {
  if (identityId === actor.identity.id) {
    throw forbidden(
      'Nobody sets their own attributes: conditions read them, so another identity must set them.',
    );
  }
  const unlocked = await scopesUnlockedByAttributes(tx, identityId);
  if (unlocked.length === 0) return;
  const authority = await loadAuthority(tx, actorOf(actor), unlocked);
  const lacking = unlocked.filter(
    (scope) => authority.unconditionallyOver({ scope, resource: null }).length === 0,
  );
  if (lacking.length > 0) {
    throw forbidden(
      `Setting the attributes of identity "${name}" could change decisions on ${lacking.map((s) => `"${s}"`).join(', ')} (conditions there read attributes); that needs holding ${lacking.length === 1 ? 'it' : 'them'} grantable on every resource without a condition, and you do not.`,
      { required: { scopes: lacking, grantable: true, resource: null } },
    );
  }
}

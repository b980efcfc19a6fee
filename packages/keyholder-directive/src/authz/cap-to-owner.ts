import { GrantSet } from './grant-set.js';

/** Whether an identity's grants are capped by its owner's: an AGENT with an owner. */
export function isCappedByOwner(identity: {
  readonly kind: string;
  readonly ownerId: string | null;
}): boolean {
  return identity.kind === 'AGENT' && identity.ownerId !== null;
}

/** The parts of a grant that capping reads and narrows. */
export interface CappableGrant {
  readonly scope: string;
  readonly resource: string | null;
  readonly expiresAt: Date | null;
  readonly grantable: boolean;
  /** The grant's CEL condition; a capped grant also carries its owner's as `ownerCondition`. */
  readonly condition?: string | null;
  readonly ownerCondition?: string | null;
}

/**
 * The resources two patterns both cover, as one pattern, or `undefined` when they share none.
 * Patterns are `null` (every resource), `x*` (a prefix) or one id; the overlap of two is always
 * one of them, the narrower.
 */
export function intersectResource(a: string | null, b: string | null): string | null | undefined {
  if (a === null || a === '*') return b;
  if (b === null || b === '*') return a;
  if (GrantSet.covers(a, b)) return b;
  if (GrantSet.covers(b, a)) return a;
  return undefined;
}

function earlier(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

/**
 * What an owned agent's grants authorize once capped by its owner's: each held grant narrowed to
 * the resources the owner's live grants of the same scope also cover, expiring at the earlier of
 * the two, grantable only if both are, and only while the owner's grant's condition also holds. Nothing when the owner is disabled (`ownerGrants` null).
 * The grants keep their own ids, so a decision still names the agent's grant that allowed it.
 */
export function capToOwner<G extends CappableGrant>(
  held: readonly G[],
  ownerGrants: readonly CappableGrant[] | null,
): G[] {
  if (ownerGrants === null) return [];
  const capped: G[] = [];
  for (const grant of held) {
    for (const owner of ownerGrants) {
      if (owner.scope !== grant.scope) continue;
      const resource = intersectResource(grant.resource, owner.resource);
      if (resource === undefined) continue;
      capped.push({
        ...grant,
        resource,
        expiresAt: earlier(grant.expiresAt, owner.expiresAt),
        grantable: grant.grantable && owner.grantable,
        ownerCondition: owner.condition ?? null,
      });
    }
  }
  return capped;
}

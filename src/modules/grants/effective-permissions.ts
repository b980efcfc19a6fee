import type { IdentityRow } from '../../db/tables.js';
import type { ActiveGrant } from './live-grants.js';

/** One scope on one resource pattern that an identity can use now, and the grants behind it. */
export interface Permission {
  readonly scope: string;
  /** `null`: every resource; `x*`: ids starting with x. */
  readonly resource: string | null;
  /** When the last of its grants expires; `null` when one never does. */
  readonly expiresAt: Date | null;
  /** Whether any of its grants may be granted on. */
  readonly grantable: boolean;
  /** The grants behind it as they reach the identity (directly, through a role, through groups). */
  readonly held: readonly ActiveGrant[];
}

/**
 * What `identity` can use now: its effective live grants (`loadLiveGrants`: direct, through
 * groups, roles expanded, an owned agent's capped by its owner's) merged per (scope, resource),
 * sorted. A disabled identity can use nothing, whatever it holds.
 */
export function effectivePermissions(
  identity: IdentityRow,
  effective: readonly ActiveGrant[],
  now = Date.now(),
): Permission[] {
  if (identity.status !== 'ACTIVE') return [];
  const merged = new Map<string, { scope: string; resource: string | null; held: ActiveGrant[] }>();
  for (const grant of effective) {
    if (grant.expiresAt !== null && grant.expiresAt.getTime() <= now) continue;
    const key = `${grant.scope}\u0000${grant.resource ?? ''}`;
    const found = merged.get(key);
    if (found === undefined) {
      merged.set(key, { scope: grant.scope, resource: grant.resource, held: [grant] });
    } else found.held.push(grant);
  }
  return [...merged.values()]
    .map(({ scope, resource, held }) => ({
      scope,
      resource,
      expiresAt: held.some((g) => g.expiresAt === null)
        ? null
        : new Date(Math.max(...held.map((g) => g.expiresAt?.getTime() ?? 0))),
      grantable: held.some((g) => g.grantable),
      held,
    }))
    .sort(
      (a, b) =>
        a.scope.localeCompare(b.scope) || (a.resource ?? '').localeCompare(b.resource ?? ''),
    );
}

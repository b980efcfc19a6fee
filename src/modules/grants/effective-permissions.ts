import type { GrantRow, IdentityRow } from '../../db/tables.js';
import { isActive } from './grant-service.js';

/** One scope on one resource pattern that an identity can use now, and the grants behind it. */
export interface Permission {
  readonly scope: string;
  /** `null`: every resource; `x*`: ids starting with x. */
  readonly resource: string | null;
  /** When the last of its grants expires; `null` when one never does. */
  readonly expiresAt: Date | null;
  /** Whether any of its grants may be granted on. */
  readonly grantable: boolean;
  readonly grants: readonly GrantRow[];
}

/**
 * What `identity` can use now: its active grants merged per (scope, resource), sorted. A disabled
 * identity can use nothing, whatever it holds.
 */
export function effectivePermissions(
  identity: IdentityRow,
  held: readonly GrantRow[],
  now = Date.now(),
): Permission[] {
  if (identity.status !== 'ACTIVE') return [];
  const merged = new Map<string, { scope: string; resource: string | null; grants: GrantRow[] }>();
  for (const grant of held) {
    if (!isActive(grant, now)) continue;
    const key = `${grant.scope}\u0000${grant.resource ?? ''}`;
    const entry = merged.get(key);
    if (entry === undefined)
      merged.set(key, { scope: grant.scope, resource: grant.resource, grants: [grant] });
    else entry.grants.push(grant);
  }
  return [...merged.values()]
    .map(({ scope, resource, grants }) => ({
      scope,
      resource,
      expiresAt: grants.some((g) => g.expiresAt === null)
        ? null
        : new Date(Math.max(...grants.map((g) => g.expiresAt?.getTime() ?? 0))),
      grantable: grants.some((g) => g.grantable),
      grants,
    }))
    .sort(
      (a, b) =>
        a.scope.localeCompare(b.scope) || (a.resource ?? '').localeCompare(b.resource ?? ''),
    );
}

import { capToOwner, isCappedByOwner } from '../../authz/cap-to-owner.js';
import type { GrantRow, IdentityRow } from '../../db/tables.js';
import { isLive } from './live-grants.js';

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

/** The owner an agent's permissions are capped by: its row and its grants. */
export interface OwnerHoldings {
  readonly identity: IdentityRow | null;
  readonly grants: readonly GrantRow[];
}

interface Usable {
  readonly scope: string;
  readonly resource: string | null;
  readonly expiresAt: Date | null;
  readonly grantable: boolean;
  readonly grant: GrantRow;
}

/**
 * What `identity` can use now: its active grants merged per (scope, resource), sorted. A disabled
 * identity can use nothing, whatever it holds; an owned agent only what its owner can use too
 * (`owner` must then be given), so a pattern may be narrower than the grant behind it.
 */
export function effectivePermissions(
  identity: IdentityRow,
  held: readonly GrantRow[],
  owner?: OwnerHoldings,
  now = Date.now(),
): Permission[] {
  if (identity.status !== 'ACTIVE') return [];
  let usable: Usable[] = held
    .filter((g) => isLive(g, now))
    .map((grant) => ({ ...pick(grant), grant }));
  if (isCappedByOwner(identity)) {
    const ownerActive = owner?.identity?.status === 'ACTIVE';
    const ownerGrants = ownerActive ? owner.grants.filter((g) => isLive(g, now)) : null;
    usable = capToOwner(usable, ownerGrants);
  }
  const merged = new Map<string, { scope: string; resource: string | null; usable: Usable[] }>();
  for (const entry of usable) {
    const key = `${entry.scope}\u0000${entry.resource ?? ''}`;
    const found = merged.get(key);
    if (found === undefined)
      merged.set(key, { scope: entry.scope, resource: entry.resource, usable: [entry] });
    else found.usable.push(entry);
  }
  return [...merged.values()]
    .map(({ scope, resource, usable: entries }) => ({
      scope,
      resource,
      expiresAt: entries.some((e) => e.expiresAt === null)
        ? null
        : new Date(Math.max(...entries.map((e) => e.expiresAt?.getTime() ?? 0))),
      grantable: entries.some((e) => e.grantable),
      grants: [...new Set(entries.map((e) => e.grant))],
    }))
    .sort(
      (a, b) =>
        a.scope.localeCompare(b.scope) || (a.resource ?? '').localeCompare(b.resource ?? ''),
    );
}

function pick(grant: GrantRow) {
  return {
    scope: grant.scope,
    resource: grant.resource,
    expiresAt: grant.expiresAt,
    grantable: grant.grantable,
  };
}

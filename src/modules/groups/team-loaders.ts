import DataLoader from 'dataloader';
import { and, asc, inArray, isNotNull, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { loaderByKey } from '../../db/loader-by-key.js';
import {
  type GrantRow,
  type GroupMemberRow,
  type GroupRow,
  grants,
  groupMembers,
  groups,
  type RoleRow,
  type RoleScopeRow,
  roleScopes,
  roles,
} from '../../db/tables.js';
import { isLive, liveGrant, liveMembership } from '../grants/live-grants.js';

/** Per-request loaders of teams: one statement per kind, however many objects a query lists. */
export interface TeamLoaders {
  readonly group: DataLoader<string, GroupRow | null>;
  readonly membership: DataLoader<string, GroupMemberRow | null>;
  readonly role: DataLoader<string, RoleRow | null>;
  /** Each role's scopes, in a stable order. */
  readonly roleScopes: DataLoader<string, readonly RoleScopeRow[]>;
  /** The groups each group is a live direct member of. */
  readonly parentsOf: DataLoader<string, readonly GroupMemberRow[]>;
  /** Grants held by each group, live only or all. */
  readonly groupGrants: DataLoader<{ id: string; active: boolean }, readonly GrantRow[], string>;
  /** Grants of each role, live only or all. */
  readonly roleGrants: DataLoader<{ id: string; active: boolean }, readonly GrantRow[], string>;
}

function byKey<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = map.get(key);
    if (list === undefined) map.set(key, [row]);
    else list.push(row);
  }
  return map;
}

export function createTeamLoaders(database: Database): TeamLoaders {
  const { db } = database;
  const grantsBy = (column: typeof grants.groupId | typeof grants.role) =>
    new DataLoader<{ id: string; active: boolean }, readonly GrantRow[], string>(
      async (keys) => {
        const ids = [...new Set(keys.map((k) => k.id))];
        const conditions: SQL[] = [inArray(column, ids)];
        if (keys.every((k) => k.active)) conditions.push(liveGrant());
        const rows = await db
          .select()
          .from(grants)
          .where(and(...conditions))
          .orderBy(asc(grants.createdAt), asc(grants.id));
        const now = Date.now();
        const grouped = byKey(rows, (g) => (column === grants.role ? g.role : g.groupId) ?? '');
        return keys.map((k) =>
          (grouped.get(k.id) ?? []).filter((g) => !k.active || isLive(g, now)),
        );
      },
      { cacheKeyFn: (k) => `${k.id}:${k.active}` },
    );
  return {
    group: loaderByKey<GroupRow>(
      (ids) => db.select().from(groups).where(inArray(groups.id, ids)),
      (row) => row.id,
    ),
    membership: loaderByKey<GroupMemberRow>(
      (ids) => db.select().from(groupMembers).where(inArray(groupMembers.id, ids)),
      (row) => row.id,
    ),
    role: loaderByKey<RoleRow>(
      (names) => db.select().from(roles).where(inArray(roles.name, names)),
      (row) => row.name,
    ),
    roleScopes: new DataLoader<string, readonly RoleScopeRow[]>(async (names) => {
      const rows = await db
        .select()
        .from(roleScopes)
        .where(inArray(roleScopes.role, [...names]))
        .orderBy(asc(roleScopes.scope), asc(roleScopes.resource));
      const grouped = byKey(rows, (r) => r.role);
      return names.map((name) => grouped.get(name) ?? []);
    }),
    parentsOf: new DataLoader<string, readonly GroupMemberRow[]>(async (ids) => {
      const rows = await db
        .select()
        .from(groupMembers)
        .where(
          and(
            inArray(groupMembers.memberGroupId, [...ids]),
            isNotNull(groupMembers.memberGroupId),
            liveMembership(),
          ),
        )
        .orderBy(asc(groupMembers.addedAt), asc(groupMembers.id));
      const grouped = byKey(rows, (r) => r.memberGroupId ?? '');
      return ids.map((id) => grouped.get(id) ?? []);
    }),
    groupGrants: grantsBy(grants.groupId),
    roleGrants: grantsBy(grants.role),
  };
}

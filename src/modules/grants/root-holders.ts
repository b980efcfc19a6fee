import { sql } from 'drizzle-orm';
import { conflict } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { GrantRow } from '../../db/tables.js';
import { liveGrantSql, liveMembershipSql, MAX_GROUP_DEPTH } from './live-grants.js';

const ROOT_HOLDERS_LOCK = 7_291_007;

/**
 * A grant whose end `keepRootHolders` must allow: grantable, on every resource, of a scope or of
 * a role (which bundles scopes). Whoever holds a scope so is the root its every other grant
 * descends from: without one, nobody could ever grant it again.
 */
export function isRootGrant(
  grant: Pick<GrantRow, 'scope' | 'grantable' | 'resource'> & Partial<Pick<GrantRow, 'role'>>,
): boolean {
  return grant.grantable && grant.resource === null;
}

/**
 * What a change takes away from the holders of root grants: grants, identities (everything they
 * hold), group memberships, or scopes of roles (`role#scope`).
 */
export interface Removal {
  readonly grantIds?: readonly string[];
  readonly identityIds?: readonly string[];
  readonly membershipIds?: readonly string[];
  readonly roleScopes?: readonly { readonly role: string; readonly scope: string }[];
}

const uuidArray = (ids: readonly string[] = []) => `{${ids.join(',')}}`;

/**
 * The scopes (built-in or not) that `without` would leave with no root holder, sorted; empty when
 * none. A root holder is an active identity, not an owned agent (whose authority is its owner's),
 * holding the scope grantable on every resource without a condition and without an expiry (a
 * grant about to end is no one's safety net) — directly, through any group (nested, permanent
 * memberships), or through a role. A scope nobody held so before the change is not reported.
 * Serialised by an advisory lock so that two administrators cannot remove each other at once.
 */
export async function orphanedScopes(tx: Tx, without: Removal): Promise<string[]> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ROOT_HOLDERS_LOCK})`);
  const memberships = uuidArray(without.membershipIds);
  const roleScopes = `{${(without.roleScopes ?? []).map((r) => `"${r.role}#${r.scope}"`).join(',')}}`;
  const rows = rowsOf<{ scope: string }>(
    await tx.execute(sql`
    with recursive m(identity_id, group_id, survives, depth) as (
      select gm.member_identity_id, gm.group_id, gm.id <> all(${memberships}::uuid[]), 1
      from group_members gm
      where gm.member_identity_id is not null and gm.expires_at is null
        and ${sql.raw(liveMembershipSql('gm'))}
      union all
      select m.identity_id, gm.group_id, m.survives and gm.id <> all(${memberships}::uuid[]),
             m.depth + 1
      from m join group_members gm on gm.member_group_id = m.group_id
      where gm.expires_at is null and ${sql.raw(liveMembershipSql('gm'))}
        and m.depth < ${MAX_GROUP_DEPTH}
    ), holders(identity_id, scope, survives) as (
      select coalesce(g.identity_id, m.identity_id), coalesce(rs.scope, g.scope),
             g.id <> all(${uuidArray(without.grantIds)}::uuid[])
             and coalesce(m.survives, true)
             and (g.role is null or (g.role || '#' || rs.scope) <> all(${roleScopes}::text[]))
      from grants g
      left join m on m.group_id = g.group_id
      left join role_scopes rs on rs.role = g.role
      where g.grantable and g.resource is null and g.condition is null and g.expires_at is null
        and ${sql.raw(liveGrantSql('g'))}
        and (g.identity_id is not null or m.identity_id is not null)
        and (g.role is null or (rs.id is not null and rs.resource is null))
    )
    select h.scope from holders h join identities i on i.id = h.identity_id
    where i.status = 'ACTIVE' and (i.kind <> 'AGENT' or i.owner_id is null)
    group by h.scope
    having not bool_or(h.survives and i.id <> all(${uuidArray(without.identityIds)}::uuid[]))
    order by h.scope`),
  );
  return rows.map((r) => r.scope);
}

/**
 * Refuses (`CONFLICT`) a change that would leave a scope with no root holder (see
 * `orphanedScopes`): nobody could ever grant it again (a lockout only a database restore undoes).
 * `what` begins the sentence, e.g. `Revoking grant <id>`.
 */
export async function keepRootHolders(tx: Tx, without: Removal, what: string): Promise<void> {
  const orphaned = await orphanedScopes(tx, without);
  if (orphaned.length > 0) throw lastRootHolder(what, orphaned);
}

/** The `CONFLICT` of a change that would orphan `orphaned` (see `keepRootHolders`). */
export function lastRootHolder(what: string, orphaned: readonly string[]): Error {
  return conflict(
    `${what} would leave no active identity holding ${orphaned.map((s) => `"${s}"`).join(', ')} grantable; grant it to another administrator first.`,
    { orphanedScopes: orphaned },
  );
}

import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import type { GrantRow } from '../../db/tables.js';
import { conflict } from '../../errors.js';
import { BUILTIN_SCOPES } from '../scopes/builtin-scopes.js';

const ROOT_HOLDERS_LOCK = 7_291_007;
const BUILTIN = BUILTIN_SCOPES.map((s) => s.name);
const BUILTIN_NAMES = new Set(BUILTIN);

/** A grant whose revocation `keepRootHolders` must allow: a built-in scope, grantable, on every resource. */
export function isRootGrant(grant: Pick<GrantRow, 'scope' | 'grantable' | 'resource'>): boolean {
  return BUILTIN_NAMES.has(grant.scope) && grant.grantable && grant.resource === null;
}

/**
 * Refuses a change that would leave a built-in scope with no active identity holding it
 * grantable on every resource: nobody could ever grant it again (a lockout only a database
 * restore undoes). `without` describes what the change takes away: one grant, or one identity.
 * Serialised by an advisory lock so two administrators cannot remove each other at once.
 */
export async function keepRootHolders(
  tx: Tx,
  without: { grantId: string } | { identityId: string },
  what: string,
): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ROOT_HOLDERS_LOCK})`);
  const excluded =
    'grantId' in without
      ? sql`g.id <> ${without.grantId}::uuid`
      : sql`g.identity_id <> ${without.identityId}::uuid`;
  const held = await tx.execute<{ scope: string }>(sql`
    select distinct g.scope from grants g join identities i on i.id = g.identity_id
    where g.scope in (${sql.join(
      BUILTIN.map((s) => sql`${s}`),
      sql`, `,
    )})
      and g.grantable and g.resource is null and g.revoked_at is null
      and (g.expires_at is null or g.expires_at > now())
      and i.status = 'ACTIVE' and ${excluded}`);
  const rows = (Array.isArray(held) ? held : (held as { rows: { scope: string }[] }).rows) as {
    scope: string;
  }[];
  const remaining = new Set(rows.map((r) => r.scope));
  const orphaned = BUILTIN.filter((s) => !remaining.has(s)).sort();
  if (orphaned.length > 0) {
    throw conflict(
      `${what} would leave no active identity holding ${orphaned.map((s) => `"${s}"`).join(', ')} grantable; grant it to another administrator first.`,
      { orphanedScopes: orphaned },
    );
  }
}

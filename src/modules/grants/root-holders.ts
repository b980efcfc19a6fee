import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { GrantRow } from '../../db/tables.js';
import { conflict } from '../../errors.js';
import { BUILTIN_SCOPES } from '../scopes/builtin-scopes.js';
import { liveGrantSql } from './live-grants.js';

const ROOT_HOLDERS_LOCK = 7_291_007;
const BUILTIN = BUILTIN_SCOPES.map((s) => s.name);
const BUILTIN_NAMES = new Set(BUILTIN);

/** A grant whose revocation `keepRootHolders` must allow: a built-in scope, grantable, on every resource. */
export function isRootGrant(grant: Pick<GrantRow, 'scope' | 'grantable' | 'resource'>): boolean {
  return BUILTIN_NAMES.has(grant.scope) && grant.grantable && grant.resource === null;
}

/** What a change takes away: some grants, or one identity (everything it holds). */
export type Removal = { readonly grantIds: readonly string[] } | { readonly identityId: string };

/**
 * The built-in scopes that `without` would leave with no active identity holding them grantable
 * on every resource, sorted; empty when none. Serialised by an advisory lock so that two
 * administrators cannot remove each other at once.
 */
export async function orphanedScopes(tx: Tx, without: Removal): Promise<string[]> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ROOT_HOLDERS_LOCK})`);
  const excluded =
    'grantIds' in without
      ? sql`g.id <> all(${`{${without.grantIds.join(',')}}`}::uuid[])`
      : sql`g.identity_id <> ${without.identityId}::uuid`;
  const held = rowsOf<{ scope: string }>(
    await tx.execute(sql`
    select distinct g.scope from grants g join identities i on i.id = g.identity_id
    where g.scope in (${sql.join(
      BUILTIN.map((s) => sql`${s}`),
      sql`, `,
    )})
      and g.grantable and g.resource is null and ${sql.raw(liveGrantSql('g'))}
      and i.status = 'ACTIVE' and ${excluded}`),
  );
  const remaining = new Set(held.map((r) => r.scope));
  return BUILTIN.filter((s) => !remaining.has(s)).sort();
}

/**
 * Refuses (`CONFLICT`) a change that would leave a built-in scope with no active identity holding
 * it grantable on every resource: nobody could ever grant it again (a lockout only a database
 * restore undoes). `what` begins the sentence, e.g. `Revoking grant <id>`.
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

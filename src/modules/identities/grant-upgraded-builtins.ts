import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import { grants } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { grantCreated } from '../grants/grant-events.js';
import { liveGrant } from '../grants/live-grants.js';
import { BUILTIN_SCOPES } from '../scopes/builtin-scopes.js';

/** One grant made by the upgrade. */
export interface UpgradeGrant {
  readonly grantId: string;
  readonly identityId: string;
  readonly scope: string;
}

const ORIGINAL = BUILTIN_SCOPES.filter((s) => !s.addedByUpgrade).map((s) => s.name);
const UPGRADED = BUILTIN_SCOPES.filter((s) => s.addedByUpgrade).map((s) => s.name);

/**
 * Gives a built-in scope added by an upgrade to the root admins of a database bootstrapped before
 * it, so that somebody can use and delegate it:
 * - only scopes marked `addedByUpgrade` that no active identity holds grantable on every resource;
 * - the root admins are the active identities holding every original built-in scope grantable on
 *   every resource (live, not expired);
 * - each grant is grantable, never expires, and is written with its `grant.created` event
 *   (actor null), in the caller's transaction.
 * A database where every such scope has a holder is left alone, so running it at every start is safe.
 */
export async function grantUpgradedBuiltins(tx: Tx): Promise<UpgradeGrant[]> {
  if (UPGRADED.length === 0) return [];
  const live = sql`g.grantable and g.resource is null and ${liveGrant('g')} and i.status = 'ACTIVE'`;
  const held = rowsOf<{ scope: string }>(
    await tx.execute(sql`
      select distinct g.scope from grants g join identities i on i.id = g.identity_id
      where g.scope in (${sql.join(
        UPGRADED.map((s) => sql`${s}`),
        sql`, `,
      )}) and ${live}`),
  );
  const heldScopes = new Set(held.map((r) => r.scope));
  const orphaned = UPGRADED.filter((s) => !heldScopes.has(s));
  if (orphaned.length === 0) return [];
  const roots = rowsOf<{ id: string }>(
    await tx.execute(sql`
      select g.identity_id as id from grants g join identities i on i.id = g.identity_id
      where g.scope in (${sql.join(
        ORIGINAL.map((s) => sql`${s}`),
        sql`, `,
      )}) and ${live}
      group by g.identity_id having count(distinct g.scope) = ${ORIGINAL.length}
      order by g.identity_id`),
  );
  const made: UpgradeGrant[] = [];
  for (const scope of orphaned) {
    const reason = `Built-in scope ${scope} added by an upgrade.`;
    for (const { id: identityId } of roots) {
      const [row] = await tx
        .insert(grants)
        .values({ identityId, scope, reason, grantable: true })
        .returning();
      if (row === undefined) throw new Error('Insert returned no grant row.');
      await recordChange(tx, null, grantCreated(row, reason));
      made.push({ grantId: row.id, identityId, scope });
    }
  }
  return made;
}

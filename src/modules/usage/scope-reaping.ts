import { eq } from 'drizzle-orm';
import { notFound } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type ScopeRow, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { actorOf, assertControlsScope } from '../grants/grant-authority.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { requireScopeName } from '../shared/validate.js';
import { requireUnusedWindow } from './unused-window.js';

/**
 * Sets (or, with null, clears) the scope's reaping policy: its active grants unused for
 * `unusedForSeconds` are revoked by the reaper. Needs the scope held grantable on every resource
 * (whoever could revoke every grant of it); audited as `scope.reaping_changed` with before/after.
 * A policy only ever takes grants away: it never extends one.
 */
export async function setScopeReaping(
  database: Database,
  actor: Caller,
  scopeName: string,
  unusedForSeconds: number | null | undefined,
): Promise<ScopeRow> {
  requireScopeName(scopeName, 'scope');
  const window =
    unusedForSeconds === null || unusedForSeconds === undefined
      ? null
      : requireUnusedWindow(unusedForSeconds, 'unusedForSeconds');
  return runChange(database, actor, async (tx) => {
    const [current] = await tx
      .select()
      .from(scopes)
      .where(eq(scopes.name, scopeName))
      .for('update');
    if (current === undefined) throw notFound(`Scope "${scopeName}" is not defined.`);
    await assertControlsScope(
      tx,
      actorOf(actor),
      scopeName,
      `Setting the reaping policy of "${scopeName}"`,
    );
    const [row] = await tx
      .update(scopes)
      .set({ reapUnusedAfterSeconds: window })
      .where(eq(scopes.name, scopeName))
      .returning();
    if (row === undefined) throw new Error('Update returned no scope row.');
    await recordChange(tx, actor, {
      action: 'scope.reaping_changed',
      subjectId: scopeName,
      scopes: [scopeName],
      details: {
        before: { reapUnusedAfterSeconds: current.reapUnusedAfterSeconds },
        after: { reapUnusedAfterSeconds: window },
      },
    });
    return row;
  });
}

import { eq } from 'drizzle-orm';
import { notFound } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type ScopeRow, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { actorOf, assertControlsScope } from '../grants/grant-authority.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { requireScopeName, requireText } from '../shared/validate.js';
import { replaceAliases, requireAliases } from './scope-aliases.js';

/**
 * Replaces a scope's aliases (the names AuthZEN callers may use for it), with a
 * `scope.aliases_changed` event (before, after, reason) in the same transaction.
 * - needs the scope held on every resource with `grantable: true` (besides `scopes:write`): an
 *   alias decides which grants answer an enforcement point's question, so only whoever controls
 *   the scope names it;
 * - an alias of another scope is `CONFLICT`; a change that changes nothing writes no event.
 */
export async function setScopeAliases(
  database: Database,
  actor: Caller,
  rawName: string,
  rawAliases: readonly string[],
  rawReason: string,
): Promise<ScopeRow> {
  const name = requireScopeName(rawName, 'scope').name;
  const aliases = requireAliases(rawAliases, 'aliases');
  const reason = requireText(rawReason, 'reason', 1000);
  return runChange(database, actor, async (tx) => {
    const [current] = await tx.select().from(scopes).where(eq(scopes.name, name)).for('update');
    if (current === undefined) throw notFound(`Scope "${name}" is not defined.`);
    const authority = await assertControlsScope(
      tx,
      actorOf(actor),
      name,
      `Changing the aliases of "${name}"`,
    );
    const before = await replaceAliases(tx, name, aliases);
    if (before.join('\u0000') === aliases.join('\u0000')) return current;
    await recordChange(tx, actor, {
      action: 'scope.aliases_changed',
      subjectId: name,
      scopes: [name],
      details: {
        reason,
        before: { aliases: before },
        after: { aliases },
        authorityGrantIds: authority.map((g) => g.id),
      },
    });
    return current;
  });
}

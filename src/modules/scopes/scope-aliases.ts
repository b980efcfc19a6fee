import { and, asc, eq, inArray, notInArray } from 'drizzle-orm';
import { badUserInput, conflict } from 'keyholder-directive/errors.js';
import type { Db, Tx } from '../../db/client.js';
import { scopeAliases } from '../../db/tables.js';

/** An alias: a letter, then letters, digits, `_`, `.` or `-`; never a `:` (scope names have one). */
const ALIAS = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/** The most aliases one scope may have. */
export const MAX_ALIASES = 20;

/**
 * A scope's aliases as given: each matching `ALIAS`, at most `MAX_ALIASES`, duplicates dropped,
 * sorted. Anything else is `BAD_USER_INPUT` naming `field`.
 */
export function requireAliases(raw: readonly string[] | null | undefined, field: string): string[] {
  const aliases = [...new Set(raw ?? [])].sort();
  if (aliases.length > MAX_ALIASES) {
    throw badUserInput(`${field} may hold at most ${MAX_ALIASES} aliases.`, { field });
  }
  for (const alias of aliases) {
    if (!ALIAS.test(alias)) {
      throw badUserInput(
        `Alias "${alias.slice(0, 64)}" is not valid: start with a letter, then up to 127 letters, digits, "_", "." or "-" (no ":").`,
        { field },
      );
    }
  }
  return aliases;
}

/**
 * Makes `aliases` exactly the aliases of `scope`, inside the caller's transaction; returns the
 * aliases it had. An alias another scope has is `CONFLICT` naming both (the transaction rolls
 * back): an alias is never taken from a scope by someone who does not control it.
 */
export async function replaceAliases(
  tx: Tx,
  scope: string,
  aliases: readonly string[],
): Promise<string[]> {
  const before = (
    await tx
      .select({ alias: scopeAliases.alias })
      .from(scopeAliases)
      .where(eq(scopeAliases.scope, scope))
      .for('update')
  )
    .map((row) => row.alias)
    .sort();
  await tx
    .delete(scopeAliases)
    .where(
      aliases.length === 0
        ? eq(scopeAliases.scope, scope)
        : and(eq(scopeAliases.scope, scope), notInArray(scopeAliases.alias, [...aliases])),
    );
  const added = aliases.filter((alias) => !before.includes(alias));
  if (added.length === 0) return before;
  const inserted = await tx
    .insert(scopeAliases)
    .values(added.map((alias) => ({ alias, scope })))
    .onConflictDoNothing()
    .returning({ alias: scopeAliases.alias });
  if (inserted.length < added.length) {
    const taken = await tx.select().from(scopeAliases).where(inArray(scopeAliases.alias, added));
    const other = taken.find((row) => row.scope !== scope);
    throw conflict(
      other === undefined
        ? 'An alias was taken by another scope meanwhile; try again.'
        : `Alias "${other.alias}" already names scope "${other.scope}".`,
      { field: 'aliases' },
    );
  }
  return before;
}

/** The aliases of each scope in `names`, sorted (one statement). */
export async function aliasesOf(db: Db, names: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await db
    .select()
    .from(scopeAliases)
    .where(inArray(scopeAliases.scope, [...names]))
    .orderBy(asc(scopeAliases.scope), asc(scopeAliases.alias));
  const found = new Map<string, string[]>();
  for (const row of rows) {
    const list = found.get(row.scope);
    if (list === undefined) found.set(row.scope, [row.alias]);
    else list.push(row.alias);
  }
  return found;
}

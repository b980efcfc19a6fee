import { inArray } from 'drizzle-orm';
import { notFound } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { type ScopeRow, scopes } from '../../db/tables.js';

/** The rows of the scopes `targets` name, each once; an undefined one is `NOT_FOUND`. */
export async function scopeRows(
  tx: Tx,
  targets: readonly { readonly scope: string }[],
): Promise<ScopeRow[]> {
  const names = [...new Set(targets.map((t) => t.scope))];
  if (names.length === 0) return [];
  const rows = await tx.select().from(scopes).where(inArray(scopes.name, names));
  const missing = names.filter((name) => !rows.some((row) => row.name === name));
  if (missing[0] !== undefined) throw notFound(`Scope "${missing[0]}" is not defined.`);
  return rows;
}

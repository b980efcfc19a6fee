import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';

/** Ownership chains are short (agents own nothing); a longer one is one party with everyone. */
const MAX_OWNER_DEPTH = 16;
/** The party of an identity whose chain is longer than `MAX_OWNER_DEPTH`: one with everyone. */
const UNRESOLVED = '*';

/**
 * Each identity's party: the top of its ownership chain (the identity itself when nobody owns
 * it). An identity and everything it owns, directly or through what it owns, are one party, and
 * so are two identities with the same owner: the two-person rule and self-service limits treat a
 * party as one person, since its members act for the same someone. Unknown ids map to themselves.
 */
export async function partiesOf(
  executor: Db | Tx,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const parties = new Map(unique.map((id) => [id, id]));
  if (unique.length === 0) return parties;
  const rows = rowsOf<{ start: string; id: string; owner_id: string | null }>(
    await executor.execute(sql`
      with recursive chain(start, id, owner_id, depth) as (
        select i.id, i.id, i.owner_id, 0 from identities i
        where i.id = any(${`{${unique.join(',')}}`}::uuid[])
        union all
        select c.start, o.id, o.owner_id, c.depth + 1
        from chain c join identities o on o.id = c.owner_id
        where c.depth < ${MAX_OWNER_DEPTH}
      )
      select distinct on (start) start::text, id::text, owner_id::text
      from chain order by start, depth desc`),
  );
  for (const row of rows) parties.set(row.start, row.owner_id === null ? row.id : UNRESOLVED);
  return parties;
}

/** Whether `a` and any of `others` belong to one party (see `partiesOf`). */
export async function inSameParty(
  executor: Db | Tx,
  a: string,
  others: readonly string[],
): Promise<boolean> {
  const parties = await partiesOf(executor, [a, ...others]);
  const party = parties.get(a);
  // A chain too long to follow could hide a common owner: it counts as one party (fail closed).
  return others.some(
    (other) =>
      party === UNRESOLVED || parties.get(other) === UNRESOLVED || parties.get(other) === party,
  );
}

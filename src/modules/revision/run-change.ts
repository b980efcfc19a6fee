import { sql } from 'drizzle-orm';
import { invariant } from 'keyholder-directive/errors.js';
import type { Change, Database, Tx } from '../../db/client.js';
import { revisionHead } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import { parseTouched } from './change-journal.js';
import { parseRevision, type Revision } from './revision.js';

/**
 * Runs one change in its own transaction — the only way changes are made — and reports the
 * revision it committed at to the actor's operation (`Caller.revisions`):
 * - the revision is `revision_head` read inside the transaction after the work, so it is the
 *   change's own (its audit events advanced it under the audit chain's lock, held to commit);
 * - it is reported only once the transaction has committed: a refused or rolled-back change
 *   reports nothing;
 * - it returns only once every instance answering from its caches has applied the revision
 *   (`Database.revisionSource`, see `RevisionFeed`): a request that starts afterwards, anywhere,
 *   is decided with the change;
 * - `actor` null (bootstrap, background jobs) reports to nobody;
 * - what the transaction touched (`Change`) goes with the revision, so this instance need not wait
 *   for its own notification to carry the authentications the change did not touch.
 */
export async function runChange<T>(
  database: Database,
  actor: Caller | null,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  const { result, head } = await database.db.transaction(async (tx) => {
    const result = await work(tx);
    const [head] = await tx
      .select({
        value: sql<Revision>`${revisionHead.value}::text`,
        from: sql<string | null>`current_setting('keyholder.revision_base', true)`,
        touched: sql<string>`coalesce(current_setting('keyholder.touched', true), '')`,
      })
      .from(revisionHead);
    invariant(head !== undefined, 'revision_head holds its one row.');
    return { result, head };
  });
  // Read once committed: nothing here can undo the change.
  await database.revisionSource.committed(head.value, journalRecord(head));
  actor?.revisions?.commit(head.value);
  return result;
}

/** The journal record of the transaction's change; `undefined` when it advanced nothing. */
function journalRecord(head: {
  readonly value: Revision;
  readonly from: string | null;
  readonly touched: string;
}): Change | undefined {
  if (head.from === null || head.from === '') return undefined;
  return {
    revision: head.value,
    from: parseRevision(head.from),
    touched: parseTouched(head.touched),
  };
}

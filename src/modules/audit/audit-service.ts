import { and, desc, eq, getTableColumns, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type AuditEventRow, auditEventScopes, auditEvents } from '../../db/tables.js';
import { badUserInput } from '../../errors.js';
import type { Page } from '../shared/pagination.js';
import { pageSize, toPage } from '../shared/pagination.js';
import { type AuditFilter, parseAuditFilter } from './audit-filter.js';

/** The outcome of walking the chain. */
export interface AuditVerification {
  readonly ok: boolean;
  readonly checked: number;
  readonly firstBrokenId: string | null;
  readonly reason: string | null;
  readonly lastSeq: string | null;
  readonly lastHash: string | null;
}

interface ChainRow extends Record<string, unknown> {
  id: string;
  seq_text: string;
  prev_hash: string;
  hash: string;
  computed: string;
}

const GENESIS = '0'.repeat(64);
const VERIFY_BATCH = 5000;

function encodeSeq(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

function decodeSeq(after: string | null | undefined): number | null {
  if (after === null || after === undefined) return null;
  const match = /^seq:(\d{1,18})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (match === null)
    throw badUserInput('"after" is not a cursor this API returned.', { field: 'after' });
  return Number(match[1]);
}

/** Search and verification of the audit log. Writing is `recordChange`'s job, in each change's transaction. */
export class AuditService {
  constructor(private readonly database: Database) {}

  /**
   * Newest first. Each filter narrows an index range ordered by `seq`: actor, subject and action
   * each have an `(x, seq)` index, scope its side table, and a time range is turned into a `seq`
   * range first (`at` never decreases along the chain), so a page reads about a page of rows.
   */
  async search(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: AuditFilter | null | undefined,
  ): Promise<Page<AuditEventRow>> {
    const size = pageSize(first);
    const before = decodeSeq(after);
    const parsed = parseAuditFilter(filter);
    if (parsed.actions !== null && parsed.actions.length === 0) return toPage([], size, () => '');
    const seq = parsed.scope === null ? auditEvents.seq : auditEventScopes.seq;
    const conditions: SQL[] = [];
    if (parsed.actorId !== null) conditions.push(eq(auditEvents.actorId, parsed.actorId));
    if (parsed.subjectId !== null) conditions.push(eq(auditEvents.subjectId, parsed.subjectId));
    if (parsed.actions !== null) {
      // With a scope, the side table's copy of the action meets the scope in one index.
      const action = parsed.scope === null ? auditEvents.action : auditEventScopes.action;
      const [only] = parsed.actions;
      conditions.push(
        parsed.actions.length === 1 && only !== undefined
          ? eq(action, only)
          : inArray(action, [...parsed.actions]),
      );
    }
    // The seq bounds alone select the time range: `at` never decreases along the chain. Repeating
    // `at >= from` / `at < to` here would add nothing but make PostgreSQL count the range twice,
    // underestimate the rows and sort every match in the range instead of reading a page.
    if (parsed.from !== null) {
      conditions.push(
        sql`${seq} >= (select f.seq from ${auditEvents} f where f.at >= ${parsed.from.toISOString()}::timestamptz order by f.at, f.seq limit 1)`,
      );
    }
    if (parsed.to !== null) {
      conditions.push(
        sql`${seq} <= (select t.seq from ${auditEvents} t where t.at < ${parsed.to.toISOString()}::timestamptz order by t.at desc, t.seq desc limit 1)`,
      );
    }
    if (before !== null) conditions.push(lt(seq, before));
    const rows =
      parsed.scope === null
        ? await this.database.db
            .select()
            .from(auditEvents)
            .where(and(...conditions))
            .orderBy(desc(auditEvents.seq))
            .limit(size + 1)
        : await this.database.db
            .select(getTableColumns(auditEvents))
            .from(auditEventScopes)
            .innerJoin(auditEvents, eq(auditEvents.seq, auditEventScopes.seq))
            .where(and(eq(auditEventScopes.scope, parsed.scope), ...conditions))
            .orderBy(desc(auditEventScopes.seq))
            .limit(size + 1);
    return toPage(rows, size, (row) => encodeSeq(row.seq));
  }

  /**
   * Walks the chain in `seq` order, recomputing each hash in the database with the same function
   * the insert trigger uses. The first entry that does not follow from its predecessor is broken:
   * a gap or repeat in `seq` (deletion, insertion), a `prev_hash` that is not the previous `hash`
   * (insertion, reordering), or content that no longer matches its `hash` (edit).
   */
  async verify(): Promise<AuditVerification> {
    let expectedSeq = 1;
    let previousHash = GENESIS;
    let checked = 0;
    // The first batch has no lower bound, so rows forged with seq 0 or below are read too.
    let lowerBound = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = await this.database.query<ChainRow>(
        `select a.id::text as id, a.seq::text as seq_text, a.prev_hash, a.hash,
                keyholder_audit_hash(a.seq, a.prev_hash, a.at, a.action, a.actor_id, a.subject_id, a.details) as computed
         from audit_events a where a.seq >= $1 order by a.seq, a.id limit $2`,
        [lowerBound, VERIFY_BATCH],
      );
      for (const row of rows) {
        const seq = Number(row.seq_text);
        const broken = (reason: string): AuditVerification => ({
          ok: false,
          checked,
          firstBrokenId: row.id,
          reason,
          lastSeq: null,
          lastHash: null,
        });
        if (seq !== expectedSeq) {
          return broken(
            seq > expectedSeq
              ? `Entry ${row.id} has seq ${seq} where ${expectedSeq} was expected: entries are missing.`
              : `Entry ${row.id} repeats seq ${seq}: an entry was inserted outside the chain.`,
          );
        }
        if (row.prev_hash !== previousHash) {
          return broken(
            `Entry ${row.id} (seq ${seq}) does not link to the hash of the entry before it.`,
          );
        }
        if (row.computed !== row.hash) {
          return broken(
            `Entry ${row.id} (seq ${seq}) no longer matches its hash: its content was changed.`,
          );
        }
        checked += 1;
        expectedSeq = seq + 1;
        previousHash = row.hash;
      }
      lowerBound = expectedSeq;
      if (rows.length < VERIFY_BATCH) break;
    }
    return {
      ok: true,
      checked,
      firstBrokenId: null,
      reason: null,
      lastSeq: checked === 0 ? null : String(expectedSeq - 1),
      lastHash: checked === 0 ? null : previousHash,
    };
  }
}

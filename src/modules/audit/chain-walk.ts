import type { Database } from '../../db/client.js';
import { CHAINED_COLUMNS, type ChainedEvent, chainHash, GENESIS_HASH } from './audit-chain.js';
import type { AuditKeys } from './audit-keys.js';

/** What kind of break verification found first. */
export type AuditProblem =
  | 'EDITED'
  | 'MISSING'
  | 'INSERTED'
  | 'UNSEALED'
  | 'REHASHED'
  | 'TRUNCATED_HEAD'
  | 'MISSING_TAIL'
  | 'SCOPE_INDEX'
  | 'CHECKPOINT'
  | 'UNRECORDED_ROW';

/** A point of the chain: the event at `seq` had `hash` (seq 0 is the genesis). */
export interface ChainPoint {
  readonly seq: number;
  readonly hash: string;
}

/** The first break a walk found. */
export interface ChainBreak {
  readonly problem: AuditProblem;
  /** The id of the event where the chain breaks (null when the break is not one row). */
  readonly eventId: string | null;
  readonly reason: string;
  /** The seqs known to be missing, as a range, when the break is a gap. */
  readonly missing?: { readonly from: number; readonly to: number };
}

/** How a walk ended: the point reached (the last event that verified) and the break, if any. */
export interface WalkResult {
  readonly checked: number;
  readonly reached: ChainPoint;
  readonly broken: ChainBreak | null;
}

/** Options of `walkChain`. */
export interface WalkOptions {
  /** Events read per statement. @default 5000 */
  readonly batchSize?: number;
  /** Stop after this seq (inclusive). @default the head */
  readonly untilSeq?: number;
  /** Hashes the walk must meet at these seqs (signed checkpoints). */
  readonly expected?: ReadonlyMap<number, string>;
  /** Told the number of events checked after every batch (full re-verification's progress). */
  readonly onProgress?: (checked: number) => void;
}

type WalkRow = ChainedEvent &
  Record<string, unknown> & {
    readonly id: string;
    readonly keyId: string | null;
    readonly mac: string | null;
  };

const SELECT_BATCH = `select e.id::text as id, ${CHAINED_COLUMNS}, s.key_id as "keyId", s.mac
  from audit_events e
  left join audit_seals s on s.seq = e.seq and s.seq >= $1 and s.seq <= $2
  where e.seq >= $1 and e.seq <= $2 order by e.seq, e.id limit $3`;

const SELECT_SCOPES = `select seq::text as seq, scope, action from audit_event_scopes
  where seq >= $1 and seq <= $2`;

/**
 * The scope rows an event must have in `audit_event_scopes` (`details.scopes`), and those it may
 * have besides: events written before `details.scopes` existed were indexed from their grant's
 * scope or, for `scope.defined`, their subject (drizzle/0003_audit_search.sql).
 */
function scopesOf(event: ChainedEvent): { required: Set<string>; allowed: Set<string> } {
  const required = new Set<string>();
  const allowed = new Set<string>();
  if (!event.details.includes('"scopes"') && !event.action.startsWith('grant.')) {
    if (event.action === 'scope.defined' && event.subjectId !== null) allowed.add(event.subjectId);
    return { required, allowed };
  }
  const details = JSON.parse(event.details) as {
    scopes?: unknown;
    after?: { scope?: unknown };
    before?: { scope?: unknown };
  };
  if (Array.isArray(details.scopes)) {
    for (const scope of details.scopes) if (typeof scope === 'string') required.add(scope);
  }
  for (const side of [details.after, details.before]) {
    if (typeof side?.scope === 'string') allowed.add(side.scope);
  }
  if (event.action === 'scope.defined' && event.subjectId !== null) allowed.add(event.subjectId);
  return { required, allowed };
}

/**
 * Walks the chain after `from` in `seq` order, in batches, trusting nothing the database computes:
 * each event's hash is recomputed by Keyholder (`chainHash`), must be the stored one, must link to
 * its predecessor's, and must carry Keyholder's seal (an HMAC the database cannot make); its
 * `audit_event_scopes` rows must be exactly those its details name. The first event that fails
 * any of these is the break: a gap or repeat in `seq` (deletion, insertion), a broken link
 * (insertion, reordering), no seal (insertion through the trigger), a seal that does not match
 * (an edit, or a chain re-hashed without the key), or a hash that differs from the one a
 * checkpoint signed at that seq.
 */
export async function walkChain(
  database: Database,
  keys: AuditKeys,
  from: ChainPoint,
  options: WalkOptions = {},
): Promise<WalkResult> {
  const batchSize = options.batchSize ?? 5000;
  const until = options.untilSeq ?? Number.MAX_SAFE_INTEGER;
  let expectedSeq = from.seq + 1;
  let previousHash = from.hash;
  let checked = 0;
  // From the genesis, rows forged with seq 0 or below are read too.
  let lowerBound = from.seq === 0 ? Number.MIN_SAFE_INTEGER : expectedSeq;
  const reached = (): ChainPoint => ({ seq: expectedSeq - 1, hash: previousHash });
  for (;;) {
    const rows = await database.query<WalkRow>(SELECT_BATCH, [lowerBound, until, batchSize]);
    const last = rows.at(-1);
    const scopeRows =
      last === undefined
        ? []
        : await database.query<{ seq: string; scope: string; action: string }>(SELECT_SCOPES, [
            lowerBound,
            Number(last.seq),
          ]);
    const scopesBySeq = new Map<string, { scope: string; action: string }[]>();
    for (const row of scopeRows) {
      const list = scopesBySeq.get(row.seq);
      if (list === undefined) scopesBySeq.set(row.seq, [row]);
      else list.push(row);
    }
    for (const row of rows) {
      const seq = Number(row.seq);
      const broken = (problem: AuditProblem, reason: string, missing?: ChainBreak['missing']) => ({
        checked,
        reached: reached(),
        broken: { problem, eventId: row.id, reason, ...(missing ? { missing } : {}) },
      });
      if (seq !== expectedSeq) {
        return seq > expectedSeq
          ? broken(
              expectedSeq === 1 ? 'TRUNCATED_HEAD' : 'MISSING',
              `Entry ${row.id} has seq ${seq} where ${expectedSeq} was expected: ${seq - expectedSeq} entries are missing.`,
              { from: expectedSeq, to: seq - 1 },
            )
          : broken(
              'INSERTED',
              `Entry ${row.id} repeats seq ${seq}: an entry was inserted outside the chain.`,
            );
      }
      if (row.prevHash !== previousHash) {
        return broken(
          'INSERTED',
          `Entry ${row.id} (seq ${seq}) does not link to the hash of the entry before it: an entry was inserted, removed or reordered.`,
        );
      }
      const hash = chainHash(row);
      if (row.keyId === null || row.mac === null) {
        return broken(
          'UNSEALED',
          `Entry ${row.id} (seq ${seq}) carries no seal: it was written behind Keyholder's back.`,
        );
      }
      if (!keys.knowsSealKey(row.keyId)) {
        return broken(
          'UNSEALED',
          `Entry ${row.id} (seq ${seq}) is sealed with key "${row.keyId}", which is not configured (AUDIT_HMAC_PREVIOUS_KEYS).`,
        );
      }
      if (!keys.sealMatches(row.keyId, hash, row.mac)) {
        return broken(
          hash === row.hash ? 'REHASHED' : 'EDITED',
          hash === row.hash
            ? `Entry ${row.id} (seq ${seq}) matches its hash but not Keyholder's seal: the chain was rewritten and re-hashed without the key.`
            : `Entry ${row.id} (seq ${seq}) no longer matches its hash or its seal: its content was changed.`,
        );
      }
      if (hash !== row.hash) {
        return broken(
          'EDITED',
          `Entry ${row.id} (seq ${seq}) has a stored hash that is not the hash of its content: the hash was changed.`,
        );
      }
      const signed = options.expected?.get(seq);
      if (signed !== undefined && signed !== hash) {
        return broken(
          'REHASHED',
          `Entry ${row.id} (seq ${seq}) does not have the hash the signed checkpoint at seq ${seq} recorded: the chain was rewritten.`,
        );
      }
      const indexed = scopesBySeq.get(row.seq) ?? [];
      scopesBySeq.delete(row.seq);
      const { required, allowed } = scopesOf(row);
      for (const entry of indexed) {
        if (
          entry.action !== row.action ||
          !(required.has(entry.scope) || allowed.has(entry.scope))
        ) {
          return broken(
            'SCOPE_INDEX',
            `Entry ${row.id} (seq ${seq}) is indexed under scope "${entry.scope}" (${entry.action}), which it does not name: the scope index was forged.`,
          );
        }
        required.delete(entry.scope);
      }
      const [absent] = required;
      if (absent !== undefined) {
        return broken(
          'SCOPE_INDEX',
          `Entry ${row.id} (seq ${seq}) is missing from the scope index under "${absent}": scope searches no longer find it.`,
        );
      }
      checked += 1;
      expectedSeq = seq + 1;
      previousHash = hash;
    }
    const [orphan] = scopesBySeq.keys();
    if (orphan !== undefined) {
      return {
        checked,
        reached: reached(),
        broken: {
          problem: 'SCOPE_INDEX',
          eventId: null,
          reason: `The scope index names seq ${orphan}, which is not in the audit log: an index row was forged.`,
        },
      };
    }
    options.onProgress?.(checked);
    if (rows.length < batchSize) break;
    lowerBound = expectedSeq;
  }
  return { checked, reached: reached(), broken: null };
}

/** The genesis, the point every full walk starts from. */
export const GENESIS: ChainPoint = { seq: 0, hash: GENESIS_HASH };

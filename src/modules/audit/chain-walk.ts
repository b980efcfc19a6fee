import type { Database } from '../../db/client.js';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
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

/** One row of `SELECT_BATCH`, in column order. */
type WalkRow = readonly [
  id: string,
  seq: string,
  prevHash: string,
  hash: string,
  atUs: string,
  action: string,
  actorId: string | null,
  subjectId: string | null,
  details: string,
  keyId: string | null,
  mac: string | null,
];

const SELECT_BATCH = `select e.id::text, e.seq::text, e.prev_hash, e.hash,
    ((extract(epoch from e.at) * 1000000)::bigint)::text, e.action, e.actor_id::text, e.subject_id,
    e.details::text, s.key_id, s.mac
  from audit_events e
  left join audit_seals s on s.seq = e.seq and s.seq >= $1 and s.seq <= $2
  where e.seq >= $1 and e.seq <= $2 order by e.seq, e.id limit $3`;

/**
 * The scope index rows of seqs \`[$1, $2]\` that differ from what the events there name: a row an
 * event's \`details.scopes\` names but the index lacks (\`missing\`), or an index row no event
 * names (\`forged\`). Events written before \`details.scopes\` existed were indexed from their
 * grant's scope or, for \`scope.defined\`, their subject (drizzle/0003_audit_search.sql): such rows
 * are not forged. Compared in the database (built-in jsonb functions only), a batch at a time.
 */
const SCOPE_MISMATCHES = `with ev as (
    select seq, action, subject_id, details from audit_events where seq >= $1 and seq <= $2
  ), expected as (
    select distinct ev.seq, ev.action, s.scope
    from ev, jsonb_array_elements_text(ev.details -> 'scopes') as s(scope)
    where jsonb_typeof(ev.details -> 'scopes') = 'array'
  ), actual as (
    select seq, action, scope from audit_event_scopes where seq >= $1 and seq <= $2
  )
  select coalesce(x.seq, a.seq)::text as seq, coalesce(x.scope, a.scope) as scope,
         (x.seq is null) as forged
  from expected x full join actual a on a.seq = x.seq and a.scope = x.scope and a.action = x.action
  where x.seq is null or a.seq is null
  except
  select a.seq::text, a.scope, true from actual a join ev on ev.seq = a.seq and ev.action = a.action
  where (ev.action like 'grant.%' and a.scope in (ev.details -> 'after' ->> 'scope', ev.details -> 'before' ->> 'scope'))
     or (ev.action = 'scope.defined' and a.scope = ev.subject_id)`;

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
  const reached = (): ChainPoint => ({ seq: expectedSeq - 1, hash: previousHash });
  type Mismatch = { seq: string; scope: string; forged: boolean };
  const mismatchesIn = (lower: number, upper: number) =>
    database.query<Mismatch>(SCOPE_MISMATCHES, [lower, upper]);
  // A batch and its scope check are read together, the check bounded by where the batch ends
  // when the chain has no gap (read again with the real bound when it does, or at the end).
  const read = (lower: number) => {
    const guess = lower < 1 ? null : lower + batchSize - 1;
    const scopes = guess === null ? null : mismatchesIn(lower, guess);
    scopes?.catch(() => {});
    return {
      rows: database.queryArrays<WalkRow>(SELECT_BATCH, [lower, until, batchSize]),
      guess,
      scopes,
    };
  };
  // From the genesis, rows forged with seq 0 or below are read too.
  let lowerBound = from.seq === 0 ? Number.MIN_SAFE_INTEGER : expectedSeq;
  let next = read(lowerBound);
  let pending = next.rows;
  for (;;) {
    const current = next;
    const rows = await current.rows;
    const last = rows.at(-1);
    // The next batch is read while this one is hashed (a broken batch discards it).
    if (last !== undefined && rows.length === batchSize) {
      next = read(Number(last[1]) + 1);
      pending = next.rows;
    }
    const mismatches =
      last === undefined
        ? []
        : rows.length === batchSize && current.scopes !== null && Number(last[1]) === current.guess
          ? await current.scopes
          : await mismatchesIn(lowerBound, Number(last[1]));
    const mismatchAt = new Map<string, { scope: string; forged: boolean }>();
    for (const m of mismatches) if (!mismatchAt.has(m.seq)) mismatchAt.set(m.seq, m);
    for (const row of rows) {
      const [
        id,
        seqText,
        prevHash,
        storedHash,
        atUs,
        action,
        actorId,
        subjectId,
        details,
        keyId,
        mac,
      ] = row;
      const seq = Number(seqText);
      const broken = (problem: AuditProblem, reason: string, missing?: ChainBreak['missing']) => {
        pending.catch(() => {});
        return {
          checked,
          reached: reached(),
          broken: { problem, eventId: id, reason, ...(missing ? { missing } : {}) },
        };
      };
      if (seq !== expectedSeq) {
        return seq > expectedSeq
          ? broken(
              expectedSeq === 1 ? 'TRUNCATED_HEAD' : 'MISSING',
              `Entry ${id} has seq ${seq} where ${expectedSeq} was expected: ${seq - expectedSeq} entries are missing.`,
              { from: expectedSeq, to: seq - 1 },
            )
          : broken(
              'INSERTED',
              `Entry ${id} repeats seq ${seq}: an entry was inserted outside the chain.`,
            );
      }
      if (prevHash !== previousHash) {
        return broken(
          'INSERTED',
          `Entry ${id} (seq ${seq}) does not link to the hash of the entry before it: an entry was inserted, removed or reordered.`,
        );
      }
      const hash = chainHash({ seq: seqText, prevHash, atUs, action, actorId, subjectId, details });
      if (keyId === null || mac === null) {
        return broken(
          'UNSEALED',
          `Entry ${id} (seq ${seq}) carries no seal: it was written behind Keyholder's back.`,
        );
      }
      if (!keys.knowsSealKey(keyId)) {
        return broken(
          'UNSEALED',
          `Entry ${id} (seq ${seq}) is sealed with key "${keyId}", which is not configured (AUDIT_HMAC_PREVIOUS_KEYS).`,
        );
      }
      if (!keys.sealMatches(keyId, hash, mac)) {
        return broken(
          hash === storedHash ? 'REHASHED' : 'EDITED',
          hash === storedHash
            ? `Entry ${id} (seq ${seq}) matches its hash but not Keyholder's seal: the chain was rewritten and re-hashed without the key.`
            : `Entry ${id} (seq ${seq}) no longer matches its hash or its seal: its content was changed.`,
        );
      }
      if (hash !== storedHash) {
        return broken(
          'EDITED',
          `Entry ${id} (seq ${seq}) has a stored hash that is not the hash of its content: the hash was changed.`,
        );
      }
      const signed = options.expected?.get(seq);
      if (signed !== undefined && signed !== hash) {
        return broken(
          'REHASHED',
          `Entry ${id} (seq ${seq}) does not have the hash the signed checkpoint at seq ${seq} recorded: the chain was rewritten.`,
        );
      }
      const mismatch = mismatchAt.get(seqText);
      if (mismatch !== undefined) {
        return broken(
          'SCOPE_INDEX',
          mismatch.forged
            ? `Entry ${id} (seq ${seq}) is indexed under scope "${mismatch.scope}", which it does not name: the scope index was forged.`
            : `Entry ${id} (seq ${seq}) is missing from the scope index under "${mismatch.scope}": scope searches no longer find it.`,
        );
      }
      checked += 1;
      expectedSeq = seq + 1;
      previousHash = hash;
    }
    // Every event of the batch verified, so a mismatch left names a seq with no event.
    const [orphan] = mismatchAt.keys();
    if (orphan !== undefined) {
      pending.catch(() => {});
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

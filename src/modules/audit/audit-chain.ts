import { hash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { invariant } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { AuditKeys } from './audit-keys.js';

/** The first event's `prev_hash`. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * An event as the chain hashes it, every value as PostgreSQL prints it: `atUs` is `at` in whole
 * microseconds since the epoch, `details` the jsonb text (keys in jsonb's canonical order).
 */
export interface ChainedEvent {
  readonly seq: string;
  readonly prevHash: string;
  /** The hash stored in the row (computed by the database's trigger). */
  readonly hash: string;
  readonly atUs: string;
  readonly action: string;
  readonly actorId: string | null;
  readonly subjectId: string | null;
  readonly details: string;
}

/** The columns of `ChainedEvent`, for `RETURNING` and `SELECT` over `audit_events` (alias `e`). */
export const CHAINED_COLUMNS = `e.seq::text as seq, e.prev_hash as "prevHash", e.hash,
  ((extract(epoch from e.at) * 1000000)::bigint)::text as "atUs", e.action,
  e.actor_id::text as "actorId", e.subject_id as "subjectId", e.details::text as details`;

/**
 * An event's hash, computed by Keyholder: SHA-256 (hex) over its position, its predecessor's hash
 * and its content, joined by U+001F. The same formula as the database's `keyholder_audit_hash()`
 * (drizzle/0001_audit_chain.sql), which verification never calls: a database owner can replace
 * that function, not this one.
 */
export function chainHash(event: Omit<ChainedEvent, 'hash'>): string {
  const fields = [
    event.seq,
    event.prevHash,
    event.atUs,
    event.action,
    event.actorId ?? '',
    event.subjectId ?? '',
    event.details,
  ];
  return hash('sha256', fields.join('\u001f'), 'hex');
}

let activeKeys: AuditKeys | null = null;

/** Sets the keys every writer of this process seals with (`startKeyholder` does, at start). */
export function useAuditKeys(keys: AuditKeys): void {
  activeKeys = keys;
}

/** The keys set by `useAuditKeys`. */
export function auditKeys(): AuditKeys {
  invariant(activeKeys !== null, 'the audit keys are set before anything is written');
  return activeKeys;
}

/**
 * The rows that create something an API caller can use, by the action of their audit event: a
 * row is matched to its event by `audit_seq` (reconciliation) and is unusable without one.
 */
export const CREATING_ACTIONS: Readonly<Record<string, string>> = {
  'identity.created': 'identities',
  'apikey.created': 'api_keys',
  'grant.created': 'grants',
  'group.member_added': 'group_members',
};

/** Thrown when the database's chain hash is not Keyholder's: the write is refused. */
export class AuditChainError extends Error {
  override readonly name = 'AuditChainError';
}

/**
 * Seals `events` (just written by this transaction, as `RETURNING ${CHAINED_COLUMNS}` gave them) in
 * one statement: each seal is the current key's HMAC over the hash Keyholder computes. A hash the
 * database computed differently means its chain function was replaced: the transaction is
 * refused rather than sealing a chain Keyholder cannot vouch for. For an event that creates a
 * row (`CREATING_ACTIONS`), the same statement stamps the row with the event's `seq`.
 */
export async function sealEvents(tx: Tx, events: readonly ChainedEvent[]): Promise<void> {
  if (events.length === 0) return;
  const keys = auditKeys();
  const seqs: string[] = [];
  const macs: string[] = [];
  for (const event of events) {
    const hash = chainHash(event);
    if (hash !== event.hash) {
      throw new AuditChainError(
        `The database hashed audit event ${event.seq} differently from Keyholder: its chain function was changed, so nothing more is written.`,
      );
    }
    seqs.push(event.seq);
    macs.push(keys.seal(hash));
  }
  const [only] = events;
  const table =
    events.length === 1 && only !== undefined ? CREATING_ACTIONS[only.action] : undefined;
  const insert = sql`insert into audit_seals (seq, key_id, mac)
    select s.seq, ${keys.sealKeyId}, s.mac
    from unnest(${`{${seqs.join(',')}}`}::bigint[], ${`{${macs.join(',')}}`}::text[]) as s(seq, mac)`;
  if (table === undefined || only === undefined || only.subjectId === null) {
    await tx.execute(insert);
    return;
  }
  await tx.execute(sql`with sealed as (${insert})
    update ${sql.raw(table)} set audit_seq = ${only.seq}::bigint
    where id = ${only.subjectId}::uuid and audit_seq is null`);
}

/**
 * Runs `text` (raw SQL with `$n` parameters, whose audit insert ends `RETURNING
 * ${CHAINED_COLUMNS}` and is the statement's result) and seals the events it wrote, in one
 * transaction: for the writers that append events in a single SQL statement.
 */
export async function runSealed(
  database: Database,
  text: string,
  params: readonly unknown[],
): Promise<void> {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = parts.map((part, index) =>
    index % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`,
  );
  await database.db.transaction(async (tx) => {
    await sealEvents(tx, rowsOf<ChainedEvent>(await tx.execute(sql.join(chunks))));
  });
}

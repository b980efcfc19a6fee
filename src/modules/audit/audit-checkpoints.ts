import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../db/client.js';
import type { AuditKeys } from './audit-keys.js';
import type { ChainPoint } from './chain-walk.js';

/** What a checkpoint signs: the chain's head at `signedAt`. */
export interface CheckpointPayload {
  readonly v: 1;
  /** The last event's seq (also how many events the chain holds: seq counts from 1, no gaps). */
  readonly seq: number;
  /** The last event's hash, as Keyholder computed it. */
  readonly hash: string;
  readonly count: number;
  readonly signedAt: string;
  /** The sealing key the chain was verified with up to here. */
  readonly sealKeyId: string;
}

/** A signed checkpoint, as stored in `audit_checkpoints` and written to the sink. */
export interface SignedCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly count: number;
  readonly signedAt: Date;
  /** The signing key's id (its JWK thumbprint, `kid` in the published keys). */
  readonly keyId: string;
  /** The exact JSON text signed. */
  readonly payload: string;
  /** Ed25519 over `payload`, base64url. */
  readonly signature: string;
}

/** A checkpoint file (`AUDIT_CHECKPOINT_DIR`, one per checkpoint) and a line of an export. */
export interface CheckpointFile {
  readonly keyId: string;
  readonly payload: string;
  readonly signature: string;
}

/** Raised when a checkpoint's text or signature cannot be trusted. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

interface CheckpointRow extends Record<string, unknown> {
  key_id: string;
  payload: string;
  signature: string;
}

/**
 * A checkpoint from its signed form, its signature verified with `keys` (current or retired
 * signing keys): anything else is refused, so only what Keyholder signed is ever trusted.
 */
export function openCheckpoint(keys: AuditKeys, file: CheckpointFile): SignedCheckpoint {
  if (
    typeof file.keyId !== 'string' ||
    typeof file.payload !== 'string' ||
    typeof file.signature !== 'string'
  ) {
    throw new CheckpointError('A checkpoint has the fields keyId, payload and signature.');
  }
  if (!keys.signatureMatches(file.keyId, file.payload, file.signature)) {
    throw new CheckpointError(
      `The checkpoint signed with key "${file.keyId}" does not verify with Keyholder's signing keys.`,
    );
  }
  const payload = JSON.parse(file.payload) as CheckpointPayload;
  return {
    seq: payload.seq,
    hash: payload.hash,
    count: payload.count,
    signedAt: new Date(payload.signedAt),
    keyId: file.keyId,
    payload: file.payload,
    signature: file.signature,
  };
}

/** The file name of the checkpoint at `seq`: zero-padded, so names sort as seqs do. */
export function checkpointFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.json`;
}

/**
 * Signed checkpoints of the audit chain: signing (Ed25519, the current signing key), storing in
 * `audit_checkpoints` and writing to the outside sink (`dir`: one JSON file per checkpoint,
 * created exclusively, never overwritten, for WORM storage), and reading them back verified.
 */
export class AuditCheckpoints {
  /** The newest checkpoint this process signed or saw: a database that loses it is caught. */
  #newest: SignedCheckpoint | null = null;

  constructor(
    private readonly database: Database,
    private readonly keys: () => AuditKeys,
    readonly dir: string | null,
  ) {}

  /** Signs `head` (verified by the caller), stores it and writes it to the sink. */
  async sign(head: ChainPoint): Promise<SignedCheckpoint> {
    const keys = this.keys();
    const payload: CheckpointPayload = {
      v: 1,
      seq: head.seq,
      hash: head.hash,
      count: head.seq,
      signedAt: new Date().toISOString(),
      sealKeyId: keys.sealKeyId,
    };
    const text = JSON.stringify(payload);
    const file: CheckpointFile = {
      keyId: keys.signingKeyId,
      payload: text,
      signature: keys.sign(text),
    };
    const checkpoint = openCheckpoint(keys, file);
    // The sink first: a checkpoint the database holds is then always in the sink too (a failed
    // write fails the job, which retries), never the other way round.
    if (this.dir !== null) await this.#writeFile(file, checkpoint.seq);
    // Another instance may have signed the same head first: its checkpoint stands.
    await this.database.query(
      `insert into audit_checkpoints (seq, hash, count, signed_at, key_id, payload, signature)
       values ($1, $2, $3, $4, $5, $6, $7) on conflict (seq) do nothing`,
      [
        checkpoint.seq,
        checkpoint.hash,
        checkpoint.count,
        checkpoint.signedAt.toISOString(),
        file.keyId,
        file.payload,
        file.signature,
      ],
    );
    this.noteSeen(checkpoint);
    return checkpoint;
  }

  /** Remembers `checkpoint` if it is the newest this process has seen. */
  noteSeen(checkpoint: SignedCheckpoint): void {
    if (this.#newest === null || checkpoint.seq > this.#newest.seq) this.#newest = checkpoint;
  }

  /** The newest checkpoint this process signed or saw (the database may have lost it). */
  newestSeen(): SignedCheckpoint | null {
    return this.#newest;
  }

  /**
   * The stored checkpoints with seq in `[from, to]`, newest first, at most `limit`, each verified;
   * one whose signature fails is reported as `forged`.
   */
  async stored(
    from: number,
    to: number,
    limit: number,
  ): Promise<{ checkpoints: SignedCheckpoint[]; forged: number | null }> {
    const rows = await this.database.query<CheckpointRow & { seq: string }>(
      `select seq::text as seq, key_id, payload, signature from audit_checkpoints
       where seq >= $1 and seq <= $2 order by seq desc limit $3`,
      [from, to, limit],
    );
    const checkpoints: SignedCheckpoint[] = [];
    for (const row of rows) {
      try {
        const checkpoint = openCheckpoint(this.keys(), {
          keyId: row.key_id,
          payload: row.payload,
          signature: row.signature,
        });
        if (checkpoint.seq !== Number(row.seq)) throw new CheckpointError('seq differs');
        checkpoints.push(checkpoint);
      } catch {
        return { checkpoints, forged: Number(row.seq) };
      }
    }
    for (const checkpoint of checkpoints) this.noteSeen(checkpoint);
    return { checkpoints, forged: null };
  }

  /** Every checkpoint file in `dir`, verified, oldest first. */
  async readDir(dir: string): Promise<SignedCheckpoint[]> {
    const names = (await readdir(dir)).filter((name) => /^\d{16}\.json$/.test(name)).sort();
    const checkpoints: SignedCheckpoint[] = [];
    for (const name of names) {
      let file: CheckpointFile;
      try {
        file = JSON.parse(await readFile(join(dir, name), 'utf8')) as CheckpointFile;
      } catch {
        throw new CheckpointError(`Checkpoint file ${name} is not JSON.`);
      }
      checkpoints.push(openCheckpoint(this.keys(), file));
    }
    return checkpoints;
  }

  async #writeFile(file: CheckpointFile, seq: number): Promise<void> {
    const dir = this.dir as string;
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(join(dir, checkpointFileName(seq)), `${JSON.stringify(file)}\n`, {
        flag: 'wx',
        mode: 0o644,
      });
    } catch (error) {
      // Another instance wrote this seq's checkpoint: the first one stands, never overwritten.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

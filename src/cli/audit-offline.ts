import { createHmac, createPublicKey, verify } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chainHash, GENESIS_HASH } from '../modules/audit/audit-chain.js';
import type { CheckpointFile, CheckpointPayload } from '../modules/audit/audit-checkpoints.js';
import { CliError, ExitCode } from './exit-codes.js';

/** A JWK Set of Ed25519 public keys (`/.well-known/keyholder-audit-keys`). */
export interface AuditJwks {
  readonly keys: readonly { kid?: string; kty?: string; crv?: string; x?: string }[];
}

/** One line of `keyholder audit export` (JSON Lines). */
export type ExportLine =
  | {
      readonly type: 'keyholder-audit-export';
      readonly v: 1;
      readonly exportedAt: string;
      readonly keys: AuditJwks;
    }
  | {
      readonly type: 'event';
      readonly id: string;
      readonly seq: string;
      readonly prevHash: string;
      readonly hash: string;
      readonly atMicros: string;
      readonly action: string;
      readonly actorId: string | null;
      readonly subjectId: string | null;
      readonly details: string;
      readonly sealKeyId: string | null;
      readonly seal: string | null;
    }
  | ({ readonly type: 'checkpoint' } & CheckpointFile);

/** Whether `file`'s signature verifies with a key of `jwks` (by `kid`). */
export function checkpointSignatureValid(file: CheckpointFile, jwks: AuditJwks): boolean {
  const jwk = jwks.keys.find((key) => key.kid === file.keyId);
  if (jwk === undefined || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return false;
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  return verify(null, Buffer.from(file.payload), key, Buffer.from(file.signature, 'base64url'));
}

/** Every checkpoint file of `dir` (`<16 digits>.json`), oldest first; refuses one that is not JSON. */
export async function readCheckpointDir(dir: string): Promise<{ name: string; text: string }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => /^\d{16}\.json$/.test(name)).sort();
  } catch (error) {
    throw new CliError(
      ExitCode.USAGE,
      `Cannot read the checkpoint directory ${dir}: ${(error as Error).message}`,
    );
  }
  return Promise.all(
    names.map(async (name) => ({ name, text: (await readFile(join(dir, name), 'utf8')).trim() })),
  );
}

/** The outcome of verifying an export offline. */
export interface OfflineVerification {
  readonly ok: boolean;
  readonly checked: number;
  readonly lastSeq: string | null;
  readonly checkpoints: number;
  /** Whether seals were checked (only with the sealing key, `AUDIT_HMAC_KEY`). */
  readonly sealsChecked: boolean;
  readonly reason: string | null;
}

/**
 * Verifies an export with nothing but the file, the public keys and, when given, the sealing
 * keys: the chain's hashes recomputed from each entry's content, links and `seq` from 1 without
 * gaps, every checkpoint's signature and its hash at its seq, and no checkpoint past the last
 * entry; with `hmacKeys` (id → key), every seal.
 */
export function verifyExport(
  lines: readonly ExportLine[],
  jwks: AuditJwks,
  hmacKeys: ReadonlyMap<string, Buffer> | null,
): OfflineVerification {
  const hashes = new Map<number, string>();
  let previous = GENESIS_HASH;
  let expected = 1;
  const fail = (reason: string): OfflineVerification => ({
    ok: false,
    checked: expected - 1,
    lastSeq: null,
    checkpoints: 0,
    sealsChecked: hmacKeys !== null,
    reason,
  });
  for (const line of lines) {
    if (line.type !== 'event') continue;
    const seq = Number(line.seq);
    if (seq !== expected)
      return fail(`Entry ${line.id} has seq ${seq} where ${expected} was expected.`);
    if (line.prevHash !== previous)
      return fail(`Entry ${line.id} (seq ${seq}) does not link to the entry before it.`);
    const hash = chainHash({ ...line, atUs: line.atMicros });
    if (hash !== line.hash) return fail(`Entry ${line.id} (seq ${seq}) does not match its hash.`);
    if (hmacKeys !== null) {
      const key = line.sealKeyId === null ? undefined : hmacKeys.get(line.sealKeyId);
      if (key === undefined || line.seal === null) {
        return fail(`Entry ${line.id} (seq ${seq}) has no seal made with a key given.`);
      }
      if (createHmac('sha256', key).update(hash).digest('hex') !== line.seal) {
        return fail(`Entry ${line.id} (seq ${seq}) does not match its seal.`);
      }
    }
    hashes.set(seq, hash);
    previous = hash;
    expected += 1;
  }
  let checkpoints = 0;
  for (const line of lines) {
    if (line.type !== 'checkpoint') continue;
    if (!checkpointSignatureValid(line, jwks)) {
      return fail(
        `The checkpoint signed by key "${line.keyId}" does not verify with the keys given.`,
      );
    }
    const payload = JSON.parse(line.payload) as CheckpointPayload;
    if (payload.seq > expected - 1) {
      return fail(
        `The checkpoint at seq ${payload.seq} vouches for ${payload.seq - (expected - 1)} entries past the last one exported (seq ${expected - 1}).`,
      );
    }
    if (hashes.get(payload.seq) !== payload.hash) {
      return fail(`The entry at seq ${payload.seq} does not have the hash its checkpoint signed.`);
    }
    checkpoints += 1;
  }
  return {
    ok: true,
    checked: expected - 1,
    lastSeq: expected > 1 ? String(expected - 1) : null,
    checkpoints,
    sealsChecked: hmacKeys !== null,
    reason: null,
  };
}

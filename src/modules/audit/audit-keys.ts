import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The audit log's keys as configured (base64 or base64url text). */
export interface AuditKeySettings {
  /** `AUDIT_HMAC_KEY`: the chain's sealing key, at least 32 random bytes. */
  readonly hmacKey?: string | undefined;
  /** `AUDIT_HMAC_PREVIOUS_KEYS`: retired sealing keys (comma-separated), still verified. */
  readonly hmacPreviousKeys?: readonly string[];
  /** `AUDIT_SIGNING_KEY`: the checkpoints' Ed25519 private key, a 32-byte seed. */
  readonly signingKey?: string | undefined;
  /** `AUDIT_SIGNING_PREVIOUS_KEYS`: retired Ed25519 seeds (comma-separated), still published. */
  readonly signingPreviousKeys?: readonly string[];
}

/** One public key of `GET /.well-known/keyholder-audit-keys` (a JWK, RFC 8037). */
export interface AuditPublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

/** Raised when a configured key cannot be used; the process refuses to start. */
export class AuditKeyError extends Error {
  override readonly name = 'AuditKeyError';
}

interface SigningKey {
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: AuditPublicJwk;
}

// PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function decodeKey(name: string, text: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new AuditKeyError(`${name} is not base64 text.`);
  }
  return Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** A sealing key's id: a digest of the key that names it without revealing it. */
function hmacKeyId(key: Buffer): string {
  return createHash('sha256')
    .update('keyholder-audit-hmac-key-id\u001f')
    .update(key)
    .digest('base64url')
    .slice(0, 16);
}

function hmacKeyOf(name: string, text: string): Buffer {
  const key = decodeKey(name, text);
  if (key.length < 32) {
    throw new AuditKeyError(
      `${name} must be at least 32 random bytes (base64); it has ${key.length}.`,
    );
  }
  return key;
}

function signingKeyOf(name: string, text: string): SigningKey {
  const seed = decodeKey(name, text);
  if (seed.length !== 32) {
    throw new AuditKeyError(
      `${name} must be a 32-byte Ed25519 seed (base64); it has ${seed.length}.`,
    );
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  const { x } = publicKey.export({ format: 'jwk' }) as { x: string };
  // The JWK thumbprint (RFC 7638): members in lexicographic order, no whitespace.
  const id = createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
  return {
    id,
    privateKey,
    publicKey,
    jwk: { kty: 'OKP', crv: 'Ed25519', x, kid: id, alg: 'EdDSA', use: 'sig' },
  };
}

/**
 * The audit log's secrets, none of which the database holds: the sealing keys (HMAC-SHA-256) and
 * the checkpoint signing keys (Ed25519). The first of each is current; the others are retired
 * and only verify what they once sealed or signed (rotation).
 */
export class AuditKeys {
  /** Sealing keys as key objects: HMAC with a `KeyObject` skips preparing the key each time. */
  readonly #hmac: Map<string, KeyObject>;
  readonly #hmacCurrent: string;
  readonly #signing: Map<string, SigningKey>;
  readonly #signingCurrent: SigningKey;

  constructor(hmacKeys: readonly Buffer[], signingKeys: readonly SigningKey[]) {
    const [hmacCurrent] = hmacKeys;
    const [signingCurrent] = signingKeys;
    if (hmacCurrent === undefined || signingCurrent === undefined) {
      throw new AuditKeyError('The audit log needs a sealing key and a signing key.');
    }
    this.#hmac = new Map(hmacKeys.map((key) => [hmacKeyId(key), createSecretKey(key)]));
    this.#hmacCurrent = hmacKeyId(hmacCurrent);
    this.#signing = new Map(signingKeys.map((key) => [key.id, key]));
    this.#signingCurrent = signingCurrent;
  }

  /** The current sealing key's id, stored with every seal. */
  get sealKeyId(): string {
    return this.#hmacCurrent;
  }

  /** The current signing key's id (its JWK thumbprint), stored with every checkpoint. */
  get signingKeyId(): string {
    return this.#signingCurrent.id;
  }

  /** The seal of a chain hash (hex) under the current key: HMAC-SHA-256, hex. */
  seal(hash: string): string {
    return this.#mac(this.#hmac.get(this.#hmacCurrent) as KeyObject, hash);
  }

  /** Whether `mac` is the seal of `hash` under key `keyId`; false for a key not configured. */
  sealMatches(keyId: string, hash: string, mac: string): boolean {
    const key = this.#hmac.get(keyId);
    if (key === undefined || mac.length !== 64) return false;
    // Hex of equal length: a plain comparison leaks nothing a verifier does not print anyway.
    return this.#mac(key, hash) === mac;
  }

  /** Whether a sealing key with this id is configured (current or retired). */
  knowsSealKey(keyId: string): boolean {
    return this.#hmac.has(keyId);
  }

  /** Signs `payload` (UTF-8) with the current signing key: base64url. */
  sign(payload: string): string {
    return sign(null, Buffer.from(payload), this.#signingCurrent.privateKey).toString('base64url');
  }

  /** Whether `signature` over `payload` verifies with signing key `keyId` (false if unknown). */
  signatureMatches(keyId: string, payload: string, signature: string): boolean {
    const key = this.#signing.get(keyId);
    if (key === undefined) return false;
    return verify(null, Buffer.from(payload), key.publicKey, Buffer.from(signature, 'base64url'));
  }

  /** The public signing keys, current first: a JWK Set. */
  jwks(): { keys: AuditPublicJwk[] } {
    return { keys: [...this.#signing.values()].map((key) => key.jwk) };
  }

  #mac(key: KeyObject, hash: string): string {
    return createHmac('sha256', key).update(hash).digest('hex');
  }

  /** Keys from their configured text (current first, then retired ones). */
  static fromSettings(
    settings: Required<Pick<AuditKeySettings, 'hmacKey' | 'signingKey'>> & AuditKeySettings,
  ): AuditKeys {
    if (settings.hmacKey === undefined || settings.signingKey === undefined) {
      throw new AuditKeyError('AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY are both required.');
    }
    return new AuditKeys(
      [
        hmacKeyOf('AUDIT_HMAC_KEY', settings.hmacKey),
        ...(settings.hmacPreviousKeys ?? []).map((k) => hmacKeyOf('AUDIT_HMAC_PREVIOUS_KEYS', k)),
      ],
      [
        signingKeyOf('AUDIT_SIGNING_KEY', settings.signingKey),
        ...(settings.signingPreviousKeys ?? []).map((k) =>
          signingKeyOf('AUDIT_SIGNING_PREVIOUS_KEYS', k),
        ),
      ],
    );
  }
}

/** Sealing keys by id, from their configured text (the CLI's offline verification). */
export function hmacKeyring(texts: readonly string[]): Map<string, Buffer> {
  return new Map(
    texts.map((text) => {
      const key = hmacKeyOf('AUDIT_HMAC_KEY', text);
      return [hmacKeyId(key), key];
    }),
  );
}

/** Where the audit keys came from, for the start-up log. */
export type AuditKeySource = 'configured' | 'generated' | 'data-dir' | 'process';

/** Keys made up for a throwaway database (`memory://`): one pair per process. */
let processKeys: { hmacKey: string; signingKey: string } | null = null;

/**
 * The audit keys to run with:
 * - both configured: those (retired keys added);
 * - neither, in production (`NODE_ENV=production`): refused, since a key the operator never saw
 *   cannot be escrowed, shared by other instances or handed to an auditor;
 * - neither, otherwise: read from `<dataDir>/audit-keys.json`, created (mode 0600) on first start;
 *   with `dataDir` `memory://`, made up once per process;
 * - only one of them: refused (a half-configured setup is a mistake, not a choice).
 */
export async function loadAuditKeys(
  settings: AuditKeySettings,
  dataDir: string,
  production: boolean,
): Promise<{ keys: AuditKeys; source: AuditKeySource }> {
  const configured = [settings.hmacKey, settings.signingKey].filter((k) => k !== undefined);
  if (configured.length === 2) {
    return {
      keys: AuditKeys.fromSettings({
        ...settings,
        hmacKey: settings.hmacKey as string,
        signingKey: settings.signingKey as string,
      }),
      source: 'configured',
    };
  }
  if (configured.length === 1) {
    throw new AuditKeyError(
      'Set both AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY, or neither (outside production only).',
    );
  }
  if (production) {
    throw new AuditKeyError(
      'AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY are required in production: the audit log is sealed and its checkpoints signed with keys the database must never hold (docs/operations/audit-keys.md).',
    );
  }
  const withRetired = (pair: { hmacKey: string; signingKey: string }) =>
    AuditKeys.fromSettings({ ...settings, ...pair });
  if (dataDir.startsWith('memory://')) {
    processKeys ??= {
      hmacKey: randomBytes(32).toString('base64'),
      signingKey: randomBytes(32).toString('base64'),
    };
    return { keys: withRetired(processKeys), source: 'process' };
  }
  const file = join(dataDir, 'audit-keys.json');
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as {
      hmacKey: string;
      signingKey: string;
    };
    return { keys: withRetired(stored), source: 'data-dir' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const made = {
    hmacKey: randomBytes(32).toString('base64'),
    signingKey: randomBytes(32).toString('base64'),
  };
  await mkdir(dataDir, { recursive: true });
  // `wx`: two processes starting at once never overwrite each other's keys.
  await writeFile(file, `${JSON.stringify(made, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  await chmod(file, 0o600);
  return { keys: withRetired(made), source: 'generated' };
}

import { createHash, randomBytes } from 'node:crypto';

/** A new key as only its creator ever sees it. */
export interface NewSecret {
  /** `kh_<8 hex>_<43 base64url chars>`: 32 random bytes (256 bits) after a visible prefix. */
  readonly secret: string;
  /** The part shown in listings and logs: `kh_<8 hex>`. */
  readonly prefix: string;
  /** SHA-256 of the whole secret, hex; the only form stored. */
  readonly hash: string;
}

export function generateSecret(): NewSecret {
  const prefix = `kh_${randomBytes(4).toString('hex')}`;
  const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { secret, prefix, hash: hashSecret(secret) };
}

/** Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The visible prefix of any secret, including an operator-chosen bootstrap key. */
export function prefixOf(secret: string): string {
  const match = /^kh_[0-9a-f]{8}/.exec(secret);
  return match ? match[0] : `${secret.slice(0, 6)}…`;
}

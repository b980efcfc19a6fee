import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import type { JWK } from 'jose';
import { usageError } from './exit-codes.js';

const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * Signs DPoP proofs (RFC 9449, with the `dpop` package) with a P-256 key kept as a private JWK in
 * a file (mode 0600): what `--dpop-key`, `KEYHOLDER_DPOP_KEY` and `login --dpop-key` name.
 */
export class DpopSigner {
  readonly #pair: KeyPair;

  private constructor(pair: KeyPair) {
    this.#pair = pair;
  }

  /** The signer of the key in `path` (a private EC P-256 JWK); a usage error otherwise. */
  static async fromFile(path: string): Promise<DpopSigner> {
    let jwk: JWK;
    try {
      jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK;
    } catch (error) {
      throw usageError(`Cannot read the DPoP key ${path}: ${(error as Error).message}`);
    }
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
      throw usageError(
        `${path} is not a private P-256 JWK; make one with "keyholder dpop-key create ${path}".`,
      );
    }
    const { kty, crv, x, y, d } = jwk as Required<Pick<JWK, 'kty' | 'crv' | 'x' | 'y' | 'd'>>;
    const publicJwk = { kty, crv, x, y };
    const privateKey = await crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, P256, false, [
      'sign',
    ]);
    const publicKey = await crypto.subtle.importKey('jwk', publicJwk, P256, true, ['verify']);
    return new DpopSigner({ privateKey, publicKey });
  }

  /** Writes a new P-256 key to `path` (mode 0600) and returns its signer. */
  static async create(path: string): Promise<DpopSigner> {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    writeFileSync(path, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return new DpopSigner(pair);
  }

  /** The key's RFC 7638 SHA-256 thumbprint: a key bound to it is `createApiKey(jkt:)`. */
  thumbprint(): Promise<string> {
    return calculateThumbprint(this.#pair.publicKey);
  }

  /** A fresh proof for one request to `url` (no query) with `method`, going with `credential`. */
  proof(url: string, method: string, credential: string): Promise<string> {
    return generateProof(this.#pair, url, method, undefined, credential);
  }
}

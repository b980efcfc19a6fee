import { constants, createHash, KeyObject, verify } from 'node:crypto';
import { decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from 'jose';
import { type DomainError, invariant, unauthenticated } from 'keyholder-directive/errors.js';

/** The JWS algorithms a DPoP proof may be signed with (asymmetric only; never `none` or HS*). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;

/** How old a proof's `iat` may be, in seconds; the replay cache keeps a `jti` this long (and the skew). */
export const DPOP_MAX_AGE_SECONDS = 60;

/** How far the client's and the server's clocks may disagree, in seconds. */
export const DPOP_CLOCK_SKEW_SECONDS = 5;

/** The `reason` of every refusal about a DPoP proof, and of a bound credential used as a bearer. */
export const INVALID_DPOP_PROOF = 'INVALID_DPOP_PROOF';

/** What the request says a proof must match: RFC 9449 §4.3. */
export interface ProofTarget {
  /** The HTTP method (`htm`), e.g. `POST`; `GET` for a WebSocket upgrade. */
  readonly method: string;
  /** The request's URL without query and fragment (`htu`), as the server was reached. */
  readonly url: string;
  /** The access token or API key the proof goes with: its hash is `ath`. */
  readonly credential: string;
}

/** A proof that passed every check. */
export interface VerifiedProof {
  /** The RFC 7638 SHA-256 thumbprint of the proof's public key. */
  readonly jkt: string;
  readonly jti: string;
  /** When the replay cache may forget the `jti`: its `iat` can no longer pass after this. */
  readonly forgetAt: Date;
}

/** An `UNAUTHENTICATED` refusal about DPoP, answered with 401 and a `DPoP` challenge. */
export function invalidDpopProof(message: string): DomainError {
  return unauthenticated(message, { reason: INVALID_DPOP_PROOF });
}

/**
 * The `WWW-Authenticate` value of a 401 (RFC 9449 §7.1): a `DPoP` challenge with
 * `error="invalid_dpop_proof"` for a refused proof (or a bound credential without one), else the
 * plain `Bearer` challenge followed by `DPoP` with the algorithms accepted.
 */
export function authenticateChallenge(error: unknown): string {
  const algs = `algs="${DPOP_ALGORITHMS.join(' ')}"`;
  const extensions = (error as { extensions?: Record<string, unknown> } | null)?.extensions;
  if (extensions?.reason === INVALID_DPOP_PROOF) {
    const description = String((error as Error).message).replaceAll('"', "'");
    return `DPoP error="invalid_dpop_proof", error_description="${description}", ${algs}`;
  }
  return `Bearer, DPoP ${algs}`;
}

/** `ath`: the base64url SHA-256 of the credential's ASCII bytes. */
export function credentialHash(credential: string): string {
  return createHash('sha256').update(credential, 'ascii').digest('base64url');
}

/** The request URL a proof's `htu` is compared with: no query, no fragment. */
export function proofUrl(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.3) without any I/O: `typ` `dpop+jwt`, an allowed
 * asymmetric `alg`, a public `jwk` in the header that verifies the signature, `htm` and `htu`
 * (compared without query and fragment) naming this request, `iat` within
 * `DPOP_MAX_AGE_SECONDS` (and `DPOP_CLOCK_SKEW_SECONDS` ahead), a `jti`, and `ath` the hash of
 * the credential. Each failure is `UNAUTHENTICATED` (`INVALID_DPOP_PROOF`) saying which check
 * failed. Replay is the caller's to refuse (`DpopReplayCache`).
 *
 * `jose` decodes the header and imports the key (once per distinct header); the signature is checked
 * synchronously by `node:crypto` against that key, because `jose` verifies through WebCrypto, a
 * thread-pool job per signature that alone costs more than the 100 µs a proof may add
 * (docs/benchmarks.md#dpop-proofs).
 */
export async function verifyDpopProof(
  proof: string,
  target: ProofTarget,
  now = Date.now(),
): Promise<VerifiedProof> {
  const parts = proof.split('.');
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) {
    throw invalidDpopProof('The DPoP proof is not a well-formed JWT.');
  }
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const { alg, jkt, key } = await proofKeyOf(encodedHeader);
  const signature = Buffer.from(encodedSignature, 'base64url');
  const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
  if (!signatureVerifies(alg, key, signed, signature)) {
    throw invalidDpopProof("The DPoP proof's signature does not verify with its own key.");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
  } catch {
    throw invalidDpopProof('The DPoP proof is not a well-formed JWT.');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw invalidDpopProof('The DPoP proof is not a well-formed JWT.');
  }
  const { htm, htu, iat, jti, ath, exp, nbf } = payload as Record<string, unknown>;
  const seconds = now / 1000;
  for (const [name, value] of [
    ['iat', iat],
    ['jti', jti],
    ['htm', htm],
    ['htu', htu],
  ] as const) {
    if (value === undefined) throw invalidDpopProof(`The DPoP proof has no "${name}" claim.`);
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw invalidDpopProof('The DPoP proof\'s "iat" claim is not valid.');
  }
  if (iat > seconds + DPOP_CLOCK_SKEW_SECONDS) {
    throw invalidDpopProof('The DPoP proof\'s "iat" is in the future.');
  }
  if (seconds - iat - DPOP_CLOCK_SKEW_SECONDS > DPOP_MAX_AGE_SECONDS) {
    throw invalidDpopProof(`The DPoP proof is older than ${DPOP_MAX_AGE_SECONDS} seconds.`);
  }
  // A proof need not carry `exp` or `nbf`; one that does is held to them.
  if (exp !== undefined && (typeof exp !== 'number' || exp <= seconds - DPOP_CLOCK_SKEW_SECONDS)) {
    throw invalidDpopProof('The DPoP proof\'s "exp" claim is not valid.');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > seconds + DPOP_CLOCK_SKEW_SECONDS)) {
    throw invalidDpopProof('The DPoP proof\'s "nbf" claim is not valid.');
  }
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw invalidDpopProof('The DPoP proof\'s "jti" must be a string of 1 to 256 characters.');
  }
  if (htm !== target.method) {
    throw invalidDpopProof(
      `The DPoP proof is for method ${JSON.stringify(htm)}, not ${target.method}.`,
    );
  }
  if (typeof htu !== 'string' || proofUrl(htu) !== proofUrl(target.url)) {
    throw invalidDpopProof(`The DPoP proof's "htu" does not name ${proofUrl(target.url)}.`);
  }
  if (ath !== credentialHash(target.credential)) {
    throw invalidDpopProof(
      'The DPoP proof\'s "ath" is not the hash of the credential it was sent with.',
    );
  }
  return {
    jkt,
    jti,
    forgetAt: new Date((iat + DPOP_MAX_AGE_SECONDS + 2 * DPOP_CLOCK_SKEW_SECONDS) * 1000),
  };
}

/** One compact JWS segment: unpadded base64url (an empty one fails its own check later). */
const BASE64URL = /^[A-Za-z0-9_-]*$/;

type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/**
 * The header checks of a proof, before any key is imported: `typ`, no `crit` (no extension is
 * understood, RFC 7515 §4.1.11), a public `jwk`, an `alg` in `DPOP_ALGORITHMS`; then the key's
 * thumbprint.
 */
function proofKey(header: ProtectedHeaderParameters): {
  alg: DpopAlgorithm;
  jkt: string;
  jwk: JWK;
} {
  if (header.typ !== 'dpop+jwt') {
    throw invalidDpopProof('The DPoP proof\'s "typ" header must be "dpop+jwt".');
  }
  if (header.crit !== undefined || header.b64 !== undefined) {
    throw invalidDpopProof("The DPoP proof's header names an extension that is not understood.");
  }
  const jwk = header.jwk;
  if (jwk === undefined || jwk === null || typeof jwk !== 'object') {
    throw invalidDpopProof('The DPoP proof carries no public key ("jwk" header).');
  }
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) {
    throw invalidDpopProof('The DPoP proof\'s "jwk" must be a public key.');
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalidDpopProof(
      `The DPoP proof's algorithm is not accepted (accepted: ${DPOP_ALGORITHMS.join(', ')}).`,
    );
  }
  return { alg: alg as DpopAlgorithm, jkt: thumbprintOf(jwk), jwk };
}

/**
 * Whether `signature` is `alg`'s signature of `signed` by `key`: JWS encodings (RFC 7518), so
 * ECDSA as the raw `r || s` pair and RSASSA-PSS with a salt as long as the hash.
 */
function signatureVerifies(
  alg: DpopAlgorithm,
  key: KeyObject,
  signed: Buffer,
  signature: Buffer,
): boolean {
  switch (alg) {
    case 'ES256':
      return (
        signature.length === 64 &&
        verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)
      );
    case 'EdDSA':
    case 'Ed25519':
      return verify(null, signed, key, signature);
    case 'RS256':
      return verify('sha256', signed, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    case 'PS256':
      return verify(
        'sha256',
        signed,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      );
  }
}

/** The members RFC 7638 hashes, in its (lexicographic) order, by key type. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK (base64url), computed synchronously: the
 * required members, in order, as JSON without whitespace.
 */
export function thumbprintOf(jwk: JWK): string {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) {
    throw invalidDpopProof('The DPoP proof\'s "jwk" is not an EC, OKP or RSA public key.');
  }
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== 'string' || value === '') {
      throw invalidDpopProof(`The DPoP proof's "jwk" has no "${name}".`);
    }
    canonical[name] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** What a proof's header yields once its checks passed: the same header is the same key. */
interface ProofKey {
  readonly alg: DpopAlgorithm;
  readonly jkt: string;
  readonly key: KeyObject;
}

/** Proof keys by encoded header; at most `MAX_PROOF_KEYS`, the least recently used first out. */
const proofKeys = new Map<string, ProofKey>();
const MAX_PROOF_KEYS = 10_000;
/** A longer header (no real key's is) is checked and imported every time, never kept. */
const MAX_KEPT_HEADER_LENGTH = 2_048;

/** RSA keys shorter than this are refused, as `jose` refuses them (RFC 7518 §3.3). */
const MIN_RSA_BITS = 2048;

/**
 * The key of a proof's header: decoded and checked (`proofKey`), then imported by `jose`, which
 * refuses a key that does not fit `alg`. A client sends the same header with every proof, so its
 * key is kept by header (importing costs several times the signature check).
 */
async function proofKeyOf(encodedHeader: string): Promise<ProofKey> {
  const known = proofKeys.get(encodedHeader);
  if (known !== undefined) {
    // Re-inserted: a Map iterates in insertion order, so the first entry is the least recent.
    proofKeys.delete(encodedHeader);
    proofKeys.set(encodedHeader, known);
    return known;
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(`${encodedHeader}..`);
  } catch {
    throw invalidDpopProof('The DPoP proof is not a well-formed JWT.');
  }
  const { alg, jkt, jwk } = proofKey(header);
  const proofKeyEntry = { alg, jkt, key: await publicKeyOf(alg, jwk) };
  if (encodedHeader.length <= MAX_KEPT_HEADER_LENGTH) {
    proofKeys.set(encodedHeader, proofKeyEntry);
    if (proofKeys.size > MAX_PROOF_KEYS) {
      const oldest = proofKeys.keys().next().value;
      if (oldest !== undefined) proofKeys.delete(oldest);
    }
  }
  return proofKeyEntry;
}

/** A proof's public key, imported by `jose` for `alg`; RSA keys under `MIN_RSA_BITS` refused. */
async function publicKeyOf(alg: DpopAlgorithm, jwk: JWK): Promise<KeyObject> {
  // The public members only (a `d` was refused already; `ext`, `key_ops`, `use` are ignored).
  const members = THUMBPRINT_MEMBERS[jwk.kty as string] ?? [];
  const publicJwk = Object.fromEntries(
    members.map((name) => [name, (jwk as Record<string, unknown>)[name]]),
  ) as JWK;
  let imported: Awaited<ReturnType<typeof importJWK>>;
  try {
    imported = await importJWK(publicJwk, alg);
  } catch {
    throw invalidDpopProof(`The DPoP proof's "jwk" is not a valid ${alg} public key.`);
  }
  invariant(!(imported instanceof Uint8Array), 'An asymmetric JWK imports as a key, not bytes.');
  const key = KeyObject.from(imported);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType?.startsWith('rsa') && (bits === undefined || bits < MIN_RSA_BITS)) {
    throw invalidDpopProof(`The DPoP proof's RSA key is shorter than ${MIN_RSA_BITS} bits.`);
  }
  return key;
}

import { createHash } from 'node:crypto';
import { type CompactJWSHeaderParameters, compactVerify, errors, importJWK, type JWK } from 'jose';
import { type DomainError, unauthenticated } from 'keyholder-directive/errors.js';

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
 * Verifies a DPoP proof JWT (RFC 9449 §4.3) with `jose`, without any I/O: `typ` `dpop+jwt`, an
 * allowed asymmetric `alg`, a public `jwk` in the header that verifies the signature, `htm` and
 * `htu` (compared without query and fragment) naming this request, `iat` within
 * `DPOP_MAX_AGE_SECONDS` (and `DPOP_CLOCK_SKEW_SECONDS` ahead), a `jti`, and `ath` the hash of
 * the credential. Each failure is `UNAUTHENTICATED` (`INVALID_DPOP_PROOF`) saying which check
 * failed. Replay is the caller's to refuse (`DpopReplayCache`).
 *
 * The JWS is parsed once (`compactVerify` hands its header to `proofKey`) and the key imported
 * once per thumbprint; the claims are read here rather than by `jwtVerify`, which would parse
 * the header again and check claims a proof does not carry.
 */
export async function verifyDpopProof(
  proof: string,
  target: ProofTarget,
  now = Date.now(),
): Promise<VerifiedProof> {
  let jkt = '';
  let payload: Record<string, unknown>;
  try {
    const verified = await compactVerify(proof, (header: CompactJWSHeaderParameters) => {
      const key = proofKey(header);
      jkt = key.jkt;
      return key.imported;
    });
    payload = JSON.parse(decoder.decode(verified.payload)) as Record<string, unknown>;
  } catch (error) {
    throw explain(error);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw invalidDpopProof('The DPoP proof is not a well-formed JWT.');
  }
  const { htm, htu, iat, jti, ath, exp, nbf } = payload;
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

const decoder = new TextDecoder();

/**
 * The header checks of a proof, then its key: thumbprint and the (cached) imported key. Called by
 * `compactVerify` before anything is verified: an `alg` outside `DPOP_ALGORITHMS` never reaches
 * a key.
 */
function proofKey(header: CompactJWSHeaderParameters): { jkt: string; imported: ImportedKey } {
  if (header.typ !== 'dpop+jwt') {
    throw invalidDpopProof('The DPoP proof\'s "typ" header must be "dpop+jwt".');
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
  const jkt = thumbprintOf(jwk);
  return { jkt, imported: publicKeyOf(alg, jkt, jwk) };
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

type ImportedKey = ReturnType<typeof importJWK>;

/** Imported public keys, by algorithm and thumbprint (the same thumbprint is the same key). */
const importedKeys = new Map<string, ImportedKey>();
const MAX_IMPORTED_KEYS = 10_000;

/**
 * The proof's public key, imported once per algorithm and thumbprint (importing costs several
 * times the signature check); at most `MAX_IMPORTED_KEYS`, the least recently used forgotten
 * first.
 */
function publicKeyOf(alg: string, jkt: string, jwk: JWK): ImportedKey {
  const id = `${alg}:${jkt}`;
  const known = importedKeys.get(id);
  if (known !== undefined) {
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
    importedKeys.delete(id);
    importedKeys.set(id, known);
    return known;
  }
  // The public members only (a `d` was refused already; `ext`, `key_ops`, `use` are ignored).
  const members = THUMBPRINT_MEMBERS[jwk.kty as string] ?? [];
  const publicJwk = Object.fromEntries(
    members.map((name) => [name, (jwk as Record<string, unknown>)[name]]),
  ) as JWK;
  const imported = importJWK(publicJwk, alg);
  // A key that does not import is not kept: the next proof tries again (and fails again).
  imported.catch(() => importedKeys.delete(id));
  importedKeys.set(id, imported);
  if (importedKeys.size > MAX_IMPORTED_KEYS) {
    const oldest = importedKeys.keys().next().value;
    if (oldest !== undefined) importedKeys.delete(oldest);
  }
  return imported;
}

function explain(error: unknown): DomainError {
  if (error instanceof Error && 'extensions' in error) return error as DomainError;
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidDpopProof("The DPoP proof's signature does not verify with its own key.");
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidDpopProof(
      `The DPoP proof's algorithm is not accepted (accepted: ${DPOP_ALGORITHMS.join(', ')}).`,
    );
  }
  return invalidDpopProof('The DPoP proof is not a well-formed JWT.');
}

import { createHash } from 'node:crypto';
import { decodeProtectedHeader, errors, importJWK, type JWK, jwtVerify } from 'jose';
import { type DomainError, unauthenticated } from '../../errors.js';

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
 */
export async function verifyDpopProof(
  proof: string,
  target: ProofTarget,
  now = Date.now(),
): Promise<VerifiedProof> {
  let jwk: JWK | undefined;
  let alg: string | undefined;
  try {
    const header = decodeProtectedHeader(proof);
    jwk = header.jwk;
    alg = header.alg;
    if (header.typ !== 'dpop+jwt') {
      throw invalidDpopProof('The DPoP proof\'s "typ" header must be "dpop+jwt".');
    }
  } catch (error) {
    if (error instanceof Error && 'extensions' in error) throw error;
    throw invalidDpopProof('The DPoP header is not a well-formed JWT.');
  }
  if (jwk === undefined || typeof jwk !== 'object') {
    throw invalidDpopProof('The DPoP proof carries no public key ("jwk" header).');
  }
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) {
    throw invalidDpopProof('The DPoP proof\'s "jwk" must be a public key.');
  }
  if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalidDpopProof(
      `The DPoP proof's algorithm is not accepted (accepted: ${DPOP_ALGORITHMS.join(', ')}).`,
    );
  }
  const jkt = thumbprintOf(jwk);
  let payload: Record<string, unknown>;
  try {
    const key = await publicKeyOf(alg, jkt, jwk);
    ({ payload } = await jwtVerify(proof, key, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGORITHMS],
      maxTokenAge: DPOP_MAX_AGE_SECONDS,
      clockTolerance: DPOP_CLOCK_SKEW_SECONDS,
      currentDate: new Date(now),
      requiredClaims: ['iat', 'jti', 'htm', 'htu'],
    }));
  } catch (error) {
    throw explain(error);
  }
  const { htm, htu, iat, jti, ath } = payload;
  if (typeof iat === 'number' && iat > now / 1000 + DPOP_CLOCK_SKEW_SECONDS) {
    throw invalidDpopProof('The DPoP proof\'s "iat" is in the future.');
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
    forgetAt: new Date(
      ((iat as number) + DPOP_MAX_AGE_SECONDS + 2 * DPOP_CLOCK_SKEW_SECONDS) * 1000,
    ),
  };
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

/** Imported public keys, by algorithm and thumbprint (the same thumbprint is the same key). */
const importedKeys = new Map<string, Promise<Awaited<ReturnType<typeof importJWK>>>>();
const MAX_IMPORTED_KEYS = 10_000;

/**
 * The proof's public key, imported once per algorithm and thumbprint (importing costs several
 * times the signature check); at most `MAX_IMPORTED_KEYS`, the oldest forgotten first.
 */
function publicKeyOf(alg: string, jkt: string, jwk: JWK): ReturnType<typeof importJWK> {
  const id = `${alg}:${jkt}`;
  const known = importedKeys.get(id);
  if (known !== undefined) return known;
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
  if (error instanceof errors.JWTExpired) {
    return invalidDpopProof(`The DPoP proof is older than ${DPOP_MAX_AGE_SECONDS} seconds.`);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') {
      return invalidDpopProof(`The DPoP proof has no "${error.claim}" claim.`);
    }
    if (error.claim === 'iat') {
      return invalidDpopProof(
        `The DPoP proof's "iat" is outside the accepted window of ${DPOP_MAX_AGE_SECONDS} seconds.`,
      );
    }
    return invalidDpopProof(`The DPoP proof's "${error.claim}" claim is not valid.`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidDpopProof("The DPoP proof's signature does not verify with its own key.");
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidDpopProof(
      `The DPoP proof's algorithm is not accepted (accepted: ${DPOP_ALGORITHMS.join(', ')}).`,
    );
  }
  return invalidDpopProof('The DPoP proof is not a valid signed JWT.');
}

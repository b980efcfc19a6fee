import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { type DomainError, unauthenticated } from 'keyholder-directive/errors.js';
import type { CallerToken } from './caller-token.js';
import { groupsClaimValues } from './groups-claim.js';
import { type OidcIssuer, STANDARD_CONDITION_CLAIMS } from './oidc-issuers.js';

/** A token that passed every check, and the issuer that vouched for it. */
export interface VerifiedToken extends CallerToken {
  readonly trustedIssuer: OidcIssuer;
  /** Every verified claim (for naming a new identity); only `claims` reaches conditions. */
  readonly payload: Readonly<Record<string, unknown>>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether a bearer credential has a JWT's shape (three base64url segments), not an API key's. */
export function looksLikeJwt(credential: string): boolean {
  return !credential.startsWith('kh_') && JWT_SHAPE.test(credential);
}

/** The thumbprint of a token's `cnf` claim (`{ jkt }`), `null` when it has none. */
function confirmationOf(cnf: unknown): string | null {
  if (cnf === undefined || cnf === null) return null;
  const jkt = (cnf as { jkt?: unknown }).jkt;
  if (typeof cnf !== 'object' || typeof jkt !== 'string' || jkt === '') {
    throw reject(
      'The token\'s "cnf" claim has no "jkt" thumbprint; only DPoP binding is supported.',
    );
  }
  return jkt;
}

/** A value from a token quoted for a message: JSON, at most 100 characters. */
function quoted(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 100 ? `${json.slice(0, 97)}…` : json;
}

const reject = (message: string): DomainError =>
  unauthenticated(message, { reason: 'INVALID_TOKEN' });

/**
 * Verifies OIDC JWT bearer tokens against the configured issuers with `jose`. Every failure is
 * `UNAUTHENTICATED` with a sentence naming the check that failed; the token itself is never
 * echoed. Checks, in order:
 * - the token decodes and its `iss` is exactly a configured issuer;
 * - its header `alg` is in that issuer's allow-list (`none` and HS* never are);
 * - the signature verifies with one of the issuer's keys (JWKS fetched with a timeout, cached and
 *   refetched on an unknown `kid`; a fetch failure rejects: fail closed);
 * - `aud` includes the issuer's audience; `exp` is in the future and `nbf` is past (with the
 *   issuer's clock tolerance); `sub` and `exp` are present.
 */
export class TokenVerifier {
  readonly #issuers = new Map<string, { issuer: OidcIssuer; keys: JWTVerifyGetKey }>();

  constructor(
    issuers: readonly OidcIssuer[],
    private readonly log: (message: string, error?: unknown) => void,
  ) {
    for (const issuer of issuers) {
      const source = issuer.keySource;
      const keys =
        'jwksUrl' in source
          ? createRemoteJWKSet(source.jwksUrl, {
              timeoutDuration: issuer.jwksTimeoutMs,
              cooldownDuration: issuer.jwksCooldownMs,
              cacheMaxAge: issuer.jwksCacheMaxAgeMs,
            })
          : createLocalJWKSet({ keys: source.keys } as JSONWebKeySet);
      this.#issuers.set(issuer.issuer, { issuer, keys });
    }
  }

  async verify(token: string): Promise<VerifiedToken> {
    let unverified: { iss?: unknown };
    let alg: unknown;
    try {
      unverified = decodeJwt(token);
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw reject('The bearer token is not a well-formed JWT.');
    }
    const trusted =
      typeof unverified.iss === 'string' ? this.#issuers.get(unverified.iss) : undefined;
    if (trusted === undefined) {
      throw reject(
        unverified.iss === undefined
          ? 'The token has no "iss" claim, so its issuer cannot be trusted.'
          : `The token's issuer ${quoted(unverified.iss)} is not a trusted issuer.`,
      );
    }
    const { issuer, keys } = trusted;
    if (alg === 'none') {
      throw reject('The token is unsigned (alg "none"); only signed tokens are accepted.');
    }
    if (typeof alg !== 'string' || !(issuer.algorithms as readonly string[]).includes(alg)) {
      throw reject(
        `The token's algorithm ${quoted(alg)} is not allowed for issuer "${issuer.issuer}" (allowed: ${issuer.algorithms.join(', ')}).`,
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: [...issuer.algorithms],
        clockTolerance: issuer.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw this.#explain(error, issuer);
    }
    if (typeof payload.sub !== 'string' || payload.sub.trim() === '') {
      throw reject('The token\'s "sub" claim is empty: it names nobody.');
    }
    const claims: Record<string, unknown> = {};
    for (const name of [...STANDARD_CONDITION_CLAIMS, ...issuer.claimsForConditions]) {
      if (payload[name] !== undefined) claims[name] = payload[name];
    }
    return {
      issuer: issuer.issuer,
      subject: payload.sub as string,
      expiresAt: new Date((payload.exp as number) * 1000),
      claims,
      jkt: confirmationOf(payload.cnf),
      groups: groupsClaimValues(issuer, payload),
      trustedIssuer: issuer,
      payload,
    };
  }

  #explain(error: unknown, issuer: OidcIssuer): DomainError {
    const from = `issuer "${issuer.issuer}"`;
    if (error instanceof errors.JWTExpired) {
      const exp = error.payload.exp;
      const at = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
      return reject(`The token has expired${at}.`);
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      const { claim, reason, payload } = error;
      if (reason === 'missing') return reject(`The token has no "${claim}" claim.`);
      if (claim === 'aud') {
        return reject(
          `The token's audience ${quoted(payload.aud)} does not include "${issuer.audience}".`,
        );
      }
      if (claim === 'nbf' && typeof payload.nbf === 'number') {
        return reject(
          `The token is not valid yet (nbf ${new Date(payload.nbf * 1000).toISOString()}).`,
        );
      }
      return reject(`The token's "${claim}" claim is not valid (${error.message}).`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return reject(`The token's signature does not verify with the keys of ${from}.`);
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return reject(
        `The token is signed with a key that ${from} does not publish; the signature cannot be verified.`,
      );
    }
    if (error instanceof errors.JWKSMultipleMatchingKeys) {
      return reject(`Several keys of ${from} match the token; it must name its key with "kid".`);
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      return reject(`The token's algorithm or key type is not allowed for ${from}.`);
    }
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      return reject(`The token is not a valid signed JWT (${error.message}).`);
    }
    if (error instanceof errors.JWKSTimeout) {
      this.log(`Fetching the signing keys of ${from} timed out`, error);
      return reject(
        `The signing keys of ${from} could not be fetched within ${issuer.jwksTimeoutMs} ms, so the token cannot be verified.`,
      );
    }
    // JWKS endpoint down, non-200, not a key set: fail closed.
    this.log(`Could not verify a token of ${from}`, error);
    return reject(
      `The signing keys of ${from} could not be loaded, so the token cannot be verified.`,
    );
  }
}

import { createPublicKey, type JsonWebKey } from 'node:crypto';

/** Asymmetric JWS algorithms a trusted issuer may sign with (never `none`, never HS*). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Claims always offered to conditions as `token.claims` when the token carries them. */
export const STANDARD_CONDITION_CLAIMS = ['amr', 'acr', 'groups'] as const;

/**
 * One identity provider whose OIDC tokens Keyholder accepts (an entry of `OIDC_ISSUERS`).
 * A token is accepted only when every check holds; each failure is `UNAUTHENTICATED`.
 */
export interface OidcIssuer {
  /** `iss`: the token's issuer must equal this string exactly. */
  readonly issuer: string;
  /** `aud`: the token's audience (a string or a list) must include this. */
  readonly audience: string;
  /**
   * Where the signing keys come from: `jwksUrl` (fetched, cached, refetched on an unknown `kid`;
   * https, or http on a loopback host) or `keys` (public JWKs given inline).
   */
  readonly keySource:
    | { readonly jwksUrl: URL }
    | { readonly keys: readonly (JsonWebKey & { kid?: string; alg?: string })[] };
  /** Signature algorithms accepted from this issuer, asymmetric only. @default ["RS256"] */
  readonly algorithms: readonly AsymmetricAlgorithm[];
  /**
   * How a token maps to an identity's `externalId`: `{iss}` and `{sub}` are replaced by the
   * token's claims. @default "{iss}|{sub}"
   */
  readonly externalIdFormat: string;
  /** A subject with no identity yet gets a USER identity with zero grants. @default false */
  readonly createIdentities: boolean;
  /** Claims exposed as `token.claims` besides `amr`, `acr` and `groups`. @default [] */
  readonly claimsForConditions: readonly string[];
  /**
   * The claim whose values (a list of strings, or one string) make the subject a member, until the
   * token's `exp`, of the groups whose `externalId` they are and that a manager let this issuer feed
   * (`setGroupTokenIssuer`); other values are ignored, and no group is ever created from a token.
   * `null`: tokens of this issuer feed no group. @default "groups"
   */
  readonly groupsClaim: string | null;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (0–300). @default 30 */
  readonly clockToleranceSeconds: number;
  /** JWKS fetch timeout in milliseconds (100–60000). @default 5000 */
  readonly jwksTimeoutMs: number;
  /** Least time between two fetches caused by an unknown `kid` (0–600000 ms). @default 30000 */
  readonly jwksCooldownMs: number;
  /**
   * How long fetched keys are used before they are fetched again (1000–86400000 ms): a key the
   * provider removed is trusted at most this long after. @default 600000
   */
  readonly jwksCacheMaxAgeMs: number;
  /**
   * `console`: people sign in to the console with this provider (OAuth 2.0 authorization code
   * with PKCE, a public client); the token it returns is sent as the bearer. Null: API keys only.
   * @default null
   */
  readonly console: OidcConsoleClient | null;
}

/** How the console signs people in with an issuer (`OidcIssuer.console`). */
export interface OidcConsoleClient {
  /** The console's client id at the provider (a public client: no secret). */
  readonly clientId: string;
  /** Where the browser is sent to sign in (https, or http on localhost). */
  readonly authorizationEndpoint: string;
  /** Where the console exchanges the code (https, or http on localhost; must allow CORS). */
  readonly tokenEndpoint: string;
  /** Scopes asked for. @default "openid" */
  readonly scope: string;
  /** Which token of the answer is the bearer: `access_token` or `id_token`. @default "access_token" */
  readonly token: 'access_token' | 'id_token';
}

/** A malformed `OIDC_ISSUERS`; the message says which entry and field. */
export class OidcIssuersError extends Error {
  override name = 'OidcIssuersError';
}

const FIELDS = new Set([
  'issuer',
  'audience',
  'jwksUrl',
  'keys',
  'algorithms',
  'externalIdFormat',
  'createIdentities',
  'claimsForConditions',
  'groupsClaim',
  'clockToleranceSeconds',
  'jwksTimeoutMs',
  'jwksCooldownMs',
  'jwksCacheMaxAgeMs',
  'console',
]);
const CONSOLE_FIELDS = new Set([
  'clientId',
  'authorizationEndpoint',
  'tokenEndpoint',
  'scope',
  'token',
]);
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function text(entry: Record<string, unknown>, field: string, where: string): string {
  const value = entry[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new OidcIssuersError(`${where}: "${field}" must be a non-empty string.`);
  }
  return value;
}

function whole(
  entry: Record<string, unknown>,
  field: string,
  where: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = entry[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OidcIssuersError(
      `${where}: "${field}" must be a whole number from ${min} to ${max}.`,
    );
  }
  return value;
}

function jwksUrlOf(raw: string, where: string, field = 'jwksUrl'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OidcIssuersError(`${where}: "${field}" is not a URL.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new OidcIssuersError(
      `${where}: "${field}" must be an https URL (http is allowed only on localhost).`,
    );
  }
  return url;
}

function consoleClientOf(raw: unknown, where: string): OidcConsoleClient | null {
  if (raw === undefined || raw === null) return null;
  const at = `${where}, console`;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OidcIssuersError(`${at}: must be an object.`);
  }
  const entry = raw as Record<string, unknown>;
  const unknown = Object.keys(entry).filter((field) => !CONSOLE_FIELDS.has(field));
  if (unknown.length > 0) {
    throw new OidcIssuersError(`${at}: unknown field ${unknown.map((f) => `"${f}"`).join(', ')}.`);
  }
  const token = entry.token ?? 'access_token';
  if (token !== 'access_token' && token !== 'id_token') {
    throw new OidcIssuersError(`${at}: "token" must be "access_token" or "id_token".`);
  }
  return {
    clientId: text(entry, 'clientId', at),
    authorizationEndpoint: jwksUrlOf(
      text(entry, 'authorizationEndpoint', at),
      at,
      'authorizationEndpoint',
    ).href,
    tokenEndpoint: jwksUrlOf(text(entry, 'tokenEndpoint', at), at, 'tokenEndpoint').href,
    scope: entry.scope === undefined ? 'openid' : text(entry, 'scope', at),
    token,
  };
}

function staticKeysOf(raw: unknown, where: string): OidcIssuer['keySource'] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new OidcIssuersError(`${where}: "keys" must be a non-empty array of public JWKs.`);
  }
  const keys = raw.map((jwk: unknown, i) => {
    const at = `${where}, keys[${i}]`;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
      throw new OidcIssuersError(`${at}: must be a JWK object.`);
    }
    const key = jwk as JsonWebKey & { kid?: string; alg?: string };
    if (key.kty !== 'RSA' && key.kty !== 'EC' && key.kty !== 'OKP') {
      throw new OidcIssuersError(`${at}: "kty" must be RSA, EC or OKP (public keys only).`);
    }
    if (PRIVATE_JWK_MEMBERS.some((member) => member in key)) {
      throw new OidcIssuersError(`${at}: is a private key; give the public key only.`);
    }
    try {
      createPublicKey({ key, format: 'jwk' });
    } catch (error) {
      throw new OidcIssuersError(
        `${at}: is not a usable public key (${(error as Error).message}).`,
      );
    }
    return key;
  });
  return { keys };
}

function algorithmsOf(raw: unknown, where: string): AsymmetricAlgorithm[] {
  if (raw === undefined) return ['RS256'];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new OidcIssuersError(`${where}: "algorithms" must be a non-empty array.`);
  }
  return raw.map((alg: unknown) => {
    if (typeof alg === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      return alg as AsymmetricAlgorithm;
    }
    const why =
      typeof alg === 'string' && /^(none|HS\d+)$/i.test(alg)
        ? 'unsigned and shared-secret algorithms are never accepted'
        : 'it is not a known asymmetric JWS algorithm';
    throw new OidcIssuersError(
      `${where}: algorithm ${JSON.stringify(alg)} is not allowed: ${why} (use ${ASYMMETRIC_ALGORITHMS.join(', ')}).`,
    );
  });
}

function issuerOf(raw: unknown, index: number): OidcIssuer {
  let where = `entry ${index}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OidcIssuersError(`${where}: must be an object.`);
  }
  const entry = raw as Record<string, unknown>;
  const issuer = text(entry, 'issuer', where);
  where = `issuer "${issuer}"`;
  const unknown = Object.keys(entry).filter((field) => !FIELDS.has(field));
  if (unknown.length > 0) {
    throw new OidcIssuersError(
      `${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')}.`,
    );
  }
  const audience = text(entry, 'audience', where);
  if ((entry.jwksUrl === undefined) === (entry.keys === undefined)) {
    throw new OidcIssuersError(`${where}: give exactly one of "jwksUrl" and "keys".`);
  }
  const keySource =
    entry.jwksUrl !== undefined
      ? { jwksUrl: jwksUrlOf(text(entry, 'jwksUrl', where), where) }
      : staticKeysOf(entry.keys, where);
  const externalIdFormat =
    entry.externalIdFormat === undefined ? '{iss}|{sub}' : text(entry, 'externalIdFormat', where);
  if (!externalIdFormat.includes('{sub}')) {
    throw new OidcIssuersError(`${where}: "externalIdFormat" must contain {sub}.`);
  }
  const createIdentities = entry.createIdentities ?? false;
  if (typeof createIdentities !== 'boolean') {
    throw new OidcIssuersError(`${where}: "createIdentities" must be true or false.`);
  }
  const claims = entry.claimsForConditions ?? [];
  if (
    !Array.isArray(claims) ||
    !claims.every((claim) => typeof claim === 'string' && claim !== '')
  ) {
    throw new OidcIssuersError(`${where}: "claimsForConditions" must be an array of claim names.`);
  }
  const groupsClaim = entry.groupsClaim === undefined ? 'groups' : entry.groupsClaim;
  if (groupsClaim !== null && (typeof groupsClaim !== 'string' || groupsClaim.trim() === '')) {
    throw new OidcIssuersError(`${where}: "groupsClaim" must be a claim name, or null for none.`);
  }
  return {
    issuer,
    audience,
    keySource,
    algorithms: algorithmsOf(entry.algorithms, where),
    externalIdFormat,
    createIdentities,
    claimsForConditions: claims as string[],
    groupsClaim,
    clockToleranceSeconds: whole(entry, 'clockToleranceSeconds', where, 30, 0, 300),
    jwksTimeoutMs: whole(entry, 'jwksTimeoutMs', where, 5000, 100, 60_000),
    jwksCooldownMs: whole(entry, 'jwksCooldownMs', where, 30_000, 0, 600_000),
    jwksCacheMaxAgeMs: whole(entry, 'jwksCacheMaxAgeMs', where, 600_000, 1000, 86_400_000),
    console: consoleClientOf(entry.console, where),
  };
}

/**
 * Parses `OIDC_ISSUERS` (a JSON array of issuer objects). Unset or empty: no issuers, so no
 * token is accepted. Anything malformed throws `OidcIssuersError` naming the entry and field.
 */
export function parseOidcIssuers(raw: string | undefined): OidcIssuer[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new OidcIssuersError('it is not valid JSON.');
  }
  if (!Array.isArray(parsed)) throw new OidcIssuersError('it must be a JSON array of issuers.');
  const issuers = parsed.map(issuerOf);
  const seen = new Set<string>();
  for (const { issuer } of issuers) {
    if (seen.has(issuer)) throw new OidcIssuersError(`issuer "${issuer}" is listed twice.`);
    seen.add(issuer);
  }
  if (issuers.length > 1) assertSeparateIdentitySpaces(issuers);
  return issuers;
}

/**
 * With more than one issuer, no token of one may map to the external id of another's subject
 * (issuer B's `sub: "okta:alice"` signing in as issuer A's alice). So each format must be a fixed
 * prefix then `{sub}` (once, at the end), and no issuer's prefix may begin another's: then the
 * prefix tells which issuer an external id belongs to.
 */
function assertSeparateIdentitySpaces(issuers: readonly OidcIssuer[]): void {
  const prefixes = issuers.map(({ issuer, externalIdFormat }) => {
    const at = externalIdFormat.indexOf('{sub}');
    if (at !== externalIdFormat.length - '{sub}'.length) {
      throw new OidcIssuersError(
        `issuer "${issuer}": with more than one issuer, "externalIdFormat" must end with {sub} and contain it once (such as "{iss}|{sub}" or "okta:{sub}"), so that one issuer's tokens cannot take another's identities.`,
      );
    }
    return { issuer, prefix: externalIdFormat.slice(0, at).replaceAll('{iss}', issuer) };
  });
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a !== b && b.prefix.startsWith(a.prefix)) {
        throw new OidcIssuersError(
          `issuers "${a.issuer}" and "${b.issuer}" would share identities: every external id "${b.prefix}…" of the second is also one "${a.prefix}…" of the first. Give each issuer a prefix no other begins with (the default "{iss}|{sub}" does).`,
        );
      }
    }
  }
}

/** The `externalId` of a token's subject under `issuer`'s format. */
export function externalIdOf(issuer: OidcIssuer, subject: string): string {
  return issuer.externalIdFormat.replaceAll('{iss}', issuer.issuer).replaceAll('{sub}', subject);
}

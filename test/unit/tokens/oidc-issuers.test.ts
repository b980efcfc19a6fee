import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';
import { externalIdOf, parseOidcIssuers } from '../../../src/modules/tokens/oidc-issuers.js';
import { looksLikeJwt } from '../../../src/modules/tokens/token-verifier.js';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_JWK = publicKey.export({ format: 'jwk' });
const PRIVATE_JWK = privateKey.export({ format: 'jwk' });
const BASE = { issuer: 'https://idp.example.com', audience: 'keyholder', keys: [PUBLIC_JWK] };

const issuers = (...entries: unknown[]) => JSON.stringify(entries);

describe('OIDC_ISSUERS', () => {
  it('should accept several issuers whose external ids cannot meet', () => {
    const read = parseOidcIssuers(
      issuers(
        { ...BASE, externalIdFormat: 'okta:{sub}' },
        { ...BASE, issuer: 'https://other.example.com' },
        { ...BASE, issuer: 'https://third.example.com', externalIdFormat: 'entra:{sub}' },
      ),
    );
    expect(read.map((issuer) => issuer.externalIdFormat)).toEqual([
      'okta:{sub}',
      '{iss}|{sub}',
      'entra:{sub}',
    ]);
  });

  it('should read no issuers when unset or blank', () => {
    expect(parseOidcIssuers(undefined)).toEqual([]);
    expect(parseOidcIssuers('  ')).toEqual([]);
    expect(readConfig({}).oidcIssuers).toEqual([]);
  });

  it('should fill the defaults of an issuer', () => {
    const [issuer] = parseOidcIssuers(
      issuers({
        issuer: 'https://idp.example.com',
        audience: 'keyholder',
        jwksUrl: 'https://idp.example.com/jwks',
      }),
    );

    expect(issuer).toEqual({
      issuer: 'https://idp.example.com',
      audience: 'keyholder',
      keySource: { jwksUrl: new URL('https://idp.example.com/jwks') },
      algorithms: ['RS256'],
      externalIdFormat: '{iss}|{sub}',
      createIdentities: false,
      claimsForConditions: [],
      groupsClaim: 'groups',
      clockToleranceSeconds: 30,
      jwksTimeoutMs: 5000,
      jwksCooldownMs: 30_000,
      jwksCacheMaxAgeMs: 600_000,
      console: null,
    });
  });

  it('should read how the console signs people in, with its defaults', () => {
    const [issuer] = parseOidcIssuers(
      issuers({
        ...BASE,
        console: {
          clientId: 'keyholder-console',
          authorizationEndpoint: 'https://idp.example.com/authorize',
          tokenEndpoint: 'https://idp.example.com/token',
        },
      }),
    );
    expect(issuer?.console).toEqual({
      clientId: 'keyholder-console',
      authorizationEndpoint: 'https://idp.example.com/authorize',
      tokenEndpoint: 'https://idp.example.com/token',
      scope: 'openid',
      token: 'access_token',
    });
  });

  it('should map a subject to its externalId with the issuer format', () => {
    const [byDefault, custom] = parseOidcIssuers(
      issuers(BASE, {
        ...BASE,
        issuer: 'https://other.example.com',
        externalIdFormat: 'okta:{sub}',
      }),
    );

    expect(externalIdOf(byDefault as never, '00u1')).toBe('https://idp.example.com|00u1');
    expect(externalIdOf(custom as never, '00u1')).toBe('okta:00u1');
  });

  it.each([
    ['not JSON', '[{', 'it is not valid JSON.'],
    ['not an array', '{}', 'it must be a JSON array of issuers.'],
    [
      'an entry without issuer',
      issuers({ audience: 'a', keys: [PUBLIC_JWK] }),
      'entry 0: "issuer" must be a non-empty string.',
    ],
    [
      'an entry without audience',
      issuers({ ...BASE, audience: undefined }),
      '"audience" must be a non-empty string.',
    ],
    [
      'both jwksUrl and keys',
      issuers({ ...BASE, jwksUrl: 'https://idp.example.com/jwks' }),
      'give exactly one of "jwksUrl" and "keys".',
    ],
    [
      'neither jwksUrl nor keys',
      issuers({ ...BASE, keys: undefined }),
      'give exactly one of "jwksUrl" and "keys".',
    ],
    [
      'an http jwksUrl off localhost',
      issuers({ ...BASE, keys: undefined, jwksUrl: 'http://idp.example.com/jwks' }),
      '"jwksUrl" must be an https URL',
    ],
    [
      'a jwksUrl that is not a URL',
      issuers({ ...BASE, keys: undefined, jwksUrl: 'jwks.json' }),
      '"jwksUrl" is not a URL.',
    ],
    [
      'the none algorithm',
      issuers({ ...BASE, algorithms: ['none'] }),
      'algorithm "none" is not allowed: unsigned and shared-secret algorithms are never accepted',
    ],
    [
      'a shared-secret algorithm',
      issuers({ ...BASE, algorithms: ['RS256', 'HS256'] }),
      'algorithm "HS256" is not allowed',
    ],
    [
      'an unknown algorithm',
      issuers({ ...BASE, algorithms: ['XS1'] }),
      'it is not a known asymmetric JWS algorithm',
    ],
    [
      'an empty algorithm list',
      issuers({ ...BASE, algorithms: [] }),
      '"algorithms" must be a non-empty array.',
    ],
    [
      'a private key',
      issuers({ ...BASE, keys: [PRIVATE_JWK] }),
      'keys[0]: is a private key; give the public key only.',
    ],
    [
      'a symmetric key',
      issuers({ ...BASE, keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
      'keys[0]: "kty" must be RSA, EC or OKP',
    ],
    [
      'a broken key',
      issuers({ ...BASE, keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] }),
      'keys[0]: is not a usable public key',
    ],
    ['a misspelt field', issuers({ ...BASE, audiance: 'x' }), 'unknown field "audiance".'],
    [
      'an empty groupsClaim',
      issuers({ ...BASE, groupsClaim: ' ' }),
      '"groupsClaim" must be a claim name, or null for none.',
    ],
    [
      'a console sign-in without a client id',
      issuers({
        ...BASE,
        console: { authorizationEndpoint: 'https://a/', tokenEndpoint: 'https://a/t' },
      }),
      'console: "clientId" must be a non-empty string.',
    ],
    [
      'a console token endpoint over http off localhost',
      issuers({
        ...BASE,
        console: {
          clientId: 'c',
          authorizationEndpoint: 'https://a/',
          tokenEndpoint: 'http://a/t',
        },
      }),
      '"tokenEndpoint" must be an https URL (http is allowed only on localhost).',
    ],
    [
      'a console token that is neither access_token nor id_token',
      issuers({
        ...BASE,
        console: {
          clientId: 'c',
          authorizationEndpoint: 'https://a/',
          tokenEndpoint: 'https://a/t',
          token: 'refresh_token',
        },
      }),
      '"token" must be "access_token" or "id_token".',
    ],
    [
      'an externalIdFormat without {sub}',
      issuers({ ...BASE, externalIdFormat: '{iss}' }),
      '"externalIdFormat" must contain {sub}.',
    ],
    [
      'a non-boolean createIdentities',
      issuers({ ...BASE, createIdentities: 'yes' }),
      '"createIdentities" must be true or false.',
    ],
    [
      'a clock tolerance out of range',
      issuers({ ...BASE, clockToleranceSeconds: 3600 }),
      '"clockToleranceSeconds" must be a whole number from 0 to 300.',
    ],
    [
      'a duplicate issuer',
      issuers(BASE, BASE),
      'issuer "https://idp.example.com" is listed twice.',
    ],
    [
      'two issuers whose external ids overlap (okta:{sub} and {sub})',
      issuers(
        { ...BASE, externalIdFormat: 'okta:{sub}' },
        { ...BASE, issuer: 'https://other.example.com', externalIdFormat: '{sub}' },
      ),
      'would share identities',
    ],
    [
      'two issuers with the same literal prefix',
      issuers(
        { ...BASE, externalIdFormat: 'corp:{sub}' },
        { ...BASE, issuer: 'https://other.example.com', externalIdFormat: 'corp:{sub}' },
      ),
      'would share identities',
    ],
    [
      'a format with {sub} not at its end, beside another issuer',
      issuers(
        { ...BASE, externalIdFormat: '{sub}@corp' },
        { ...BASE, issuer: 'https://other.example.com' },
      ),
      'must end with {sub} and contain it once',
    ],
  ])('should refuse %s at startup with a ConfigError naming it', (_, raw, message) => {
    const read = () => readConfig({ OIDC_ISSUERS: raw });

    expect(read).toThrow(ConfigError);
    expect(read).toThrow(`OIDC_ISSUERS: `);
    expect(read).toThrow(message);
  });
});

describe('telling tokens from API keys', () => {
  it.each([
    ['a JWT', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', true],
    ['an unsigned JWT', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', true],
    ['an API key', 'kh_0123abcd_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_', false],
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0', false],
    ['a kh_ key with dots', 'kh_a.b.c', false],
  ])('should read %s as %s', (_, credential, jwt) => {
    expect(looksLikeJwt(credential)).toBe(jwt);
  });
});

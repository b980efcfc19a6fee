import { createHmac } from 'node:crypto';
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOidcIssuers } from '../../src/modules/tokens/oidc-issuers.js';
import { TokenAuthenticator } from '../../src/modules/tokens/token-authenticator.js';
import { accessEvents } from '../fixtures/access-log.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, gql, readResponse } from '../fixtures/gql.js';
import {
  type JwksServer,
  type SigningKey,
  signingKey,
  signToken,
  startJwksServer,
  unsignedToken,
} from '../fixtures/identity-provider.js';
import { createIdentity, grant, unique } from '../fixtures/seed.js';
import {
  type StubHttpServer,
  startStubHttpServer,
  unusedUrl,
} from '../fixtures/stub-http-server.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { bearer, connectAs, executeWs, openWsClient, within } from '../fixtures/ws.js';
import {
  expectEndedForbidden,
  markerIdentity,
  primeSubscriptions,
  subscribeToAudit,
} from '../subscriptions/audit-subscriber.js';

const ME = '{ me { id name kind externalId } }';
/** Looked up by JWKS URL: tokens are verified against its keys, refetched on an unknown kid. */
const CORP = 'https://sso.corp.test';
/** Static keys; creates identities on first sight; one extra claim for conditions. */
const AUTO = 'https://auto.corp.test';
/** CORP's JWKS endpoint under jose's default cooldown: an unknown kid refetches at most every 30 s. */
const COOL = 'https://cool.corp.test';
/** Its JWKS URL has nothing listening. */
const DOWN = 'https://down.corp.test';
/** Its JWKS endpoint never answers. */
const SLOW = 'https://slow.corp.test';
const AUDIENCE = 'keyholder';

describe.each(engines())('identity-provider tokens on %s', (engine) => {
  let server: TestServer;
  let jwks: JwksServer;
  let hanging: StubHttpServer;
  let corpKey: SigningKey;
  let corpEcKey: SigningKey;
  let autoKey: SigningKey;
  let issuersJson: string;

  /** A token of `issuer` for `sub`, signed with `key`, valid for five minutes unless `claims` say. */
  const tokenFor = (key: SigningKey, issuer: string, sub: string, claims: JWTPayload = {}) =>
    signToken(key, { iss: issuer, aud: AUDIENCE, sub, ...claims });

  /** An identity whose externalId is CORP's subject `sub`, with the given grants. */
  const corpIdentity = async (sub: string, scopes: readonly string[] = []) => {
    const identity = await createIdentity(server, { kind: 'USER', externalId: `${CORP}|${sub}` });
    for (const scope of scopes) await grant(server, identity.id, { scope });
    return identity;
  };

  beforeAll(async () => {
    corpKey = await signingKey('corp-1');
    corpEcKey = await signingKey('corp-ec', 'ES256');
    autoKey = await signingKey('auto-1', 'ES256');
    jwks = await startJwksServer([corpKey, corpEcKey]);
    hanging = await startStubHttpServer(() => {});
    issuersJson = JSON.stringify([
      {
        issuer: CORP,
        audience: AUDIENCE,
        jwksUrl: jwks.url,
        algorithms: ['RS256', 'ES256'],
        clockToleranceSeconds: 0,
        // Every unknown kid refetches at once, so rotation is seen without waiting.
        jwksCooldownMs: 0,
      },
      { issuer: COOL, audience: AUDIENCE, jwksUrl: jwks.url, externalIdFormat: 'cool:{sub}' },
      {
        issuer: AUTO,
        audience: AUDIENCE,
        keys: [autoKey.publicJwk],
        algorithms: ['ES256'],
        createIdentities: true,
        claimsForConditions: ['department'],
      },
      {
        issuer: DOWN,
        audience: AUDIENCE,
        jwksUrl: (await unusedUrl()).replace('/graphql', '/jwks'),
      },
      {
        issuer: SLOW,
        audience: AUDIENCE,
        jwksUrl: hanging.url.replace('/graphql', '/jwks'),
        jwksTimeoutMs: 300,
      },
    ]);
    server = await startTestServer(engine, {
      oidcIssuers: parseOidcIssuers(issuersJson),
      accessLog: true,
    });
  });

  afterAll(async () => {
    await server?.stop();
    await jwks?.stop();
    await hanging?.stop();
  });

  describe('a valid token', () => {
    it('should authenticate the identity whose externalId is "<iss>|<sub>"', async () => {
      const identity = await corpIdentity(unique('alice'));
      const token = await tokenFor(corpKey, CORP, identity.externalId?.split('|')[1] as string);

      const response = await gql(server.url, token, ME);

      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        data: {
          me: {
            id: identity.id,
            name: identity.name,
            kind: 'USER',
            externalId: identity.externalId,
          },
        },
        extensions: { revision: expect.stringMatching(/^\d+$/) },
      });
    });

    it('should accept an audience list that includes the configured audience, signed with ES256', async () => {
      const sub = unique('sub');
      const identity = await corpIdentity(sub);
      const token = await signToken(corpEcKey, { iss: CORP, sub, aud: ['other-api', AUDIENCE] });

      expect(dataOf(await gql(server.url, token, ME)).me.id).toBe(identity.id);
    });

    it("should authorize with the identity's live grants, as for API keys", async () => {
      const sub = unique('reader');
      await corpIdentity(sub, ['identities:read']);
      const token = await tokenFor(corpKey, CORP, sub);

      const response = await gql(server.url, token, '{ identities(first: 1) { nodes { id } } }');

      expect(response.body.errors).toBeUndefined();
    });

    it('should authenticate a known subject in one SQL statement, and again from the cache in none', async () => {
      const sub = unique('counted');
      await corpIdentity(sub);
      const token = await tokenFor(corpKey, CORP, sub);
      const counts: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const before = server.database.statements.count;
        dataOf(await gql(server.url, token, '{ me { id } }'));
        counts.push(server.database.statements.count - before);
      }

      // The first is a miss: the authentication statement. The least of the other four (so a
      // background flush cannot count) is a hit: none.
      expect(counts[0]).toBeGreaterThanOrEqual(1);
      expect(Math.min(...counts.slice(1))).toBe(0);
    });

    it('should let a token caller create a key for itself only up to the token expiry', async () => {
      const sub = unique('minter');
      const identity = await corpIdentity(sub, ['identities:write', 'identities:read']);
      const token = await tokenFor(corpKey, CORP, sub);
      const createKey = (ttlSeconds?: number) =>
        gql(
          server.url,
          token,
          'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }',
          { input: { identityId: identity.id, name: unique('laptop'), ttlSeconds } },
        );

      const forever = await createKey();
      const briefly = await createKey(60);

      expectError(forever, 'BAD_USER_INPUT', 'cannot outlive the token you are using');
      expect(briefly.body.errors).toBeUndefined();
    });
  });

  describe('each failed check is UNAUTHENTICATED (HTTP 401) naming the check', () => {
    let sub: string;

    beforeAll(async () => {
      sub = unique('checked');
      await corpIdentity(sub);
    });

    const now = () => Math.floor(Date.now() / 1000);

    it.each([
      [
        'an expired token',
        () => tokenFor(corpKey, CORP, sub, { iat: now() - 120, exp: now() - 60 }),
        /^The token has expired at .+\.$/,
      ],
      [
        'a token not valid yet (nbf)',
        () => tokenFor(corpKey, CORP, sub, { nbf: now() + 120 }),
        /^The token is not valid yet \(nbf .+\)\.$/,
      ],
      [
        'a token for another audience',
        () => signToken(corpKey, { iss: CORP, sub, aud: 'billing' }),
        'The token\'s audience "billing" does not include "keyholder".',
      ],
      [
        'a token of an unknown issuer',
        () => tokenFor(corpKey, 'https://evil.test', sub),
        'The token\'s issuer "https://evil.test" is not a trusted issuer.',
      ],
      [
        'a token without a subject',
        () => signToken(corpKey, { iss: CORP, aud: AUDIENCE }),
        'The token has no "sub" claim.',
      ],
      [
        'a token whose subject is empty',
        () => signToken(corpKey, { iss: CORP, aud: AUDIENCE, sub: '' }),
        'The token\'s "sub" claim is empty: it names nobody.',
      ],
      [
        'a token without an expiry',
        () => signToken(corpKey, { iss: CORP, aud: AUDIENCE, sub, exp: undefined }),
        'The token has no "exp" claim.',
      ],
      [
        'an unsigned token (alg none)',
        async () => unsignedToken({ iss: CORP, aud: AUDIENCE, sub }),
        'The token is unsigned (alg "none"); only signed tokens are accepted.',
      ],
      [
        'an HS256 token keyed with the public key (algorithm confusion)',
        async () => {
          const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
          const input = `${part({ alg: 'HS256', kid: 'corp-1' })}.${part({ iss: CORP, aud: AUDIENCE, sub, exp: now() + 300 })}`;
          const mac = createHmac('sha256', JSON.stringify(corpKey.publicJwk)).update(input);
          return `${input}.${mac.digest('base64url')}`;
        },
        'The token\'s algorithm "HS256" is not allowed for issuer "https://sso.corp.test" (allowed: RS256, ES256).',
      ],
      [
        'a token signed with an algorithm not in the allow-list (PS256)',
        async () => tokenFor(await signingKey('corp-1', 'PS256'), CORP, sub),
        'The token\'s algorithm "PS256" is not allowed',
      ],
      [
        'a token whose signature does not verify (another key, same kid)',
        async () => tokenFor(await signingKey('corp-1'), CORP, sub),
        'The token\'s signature does not verify with the keys of issuer "https://sso.corp.test".',
      ],
      [
        'a token signed with a key the issuer does not publish',
        async () => tokenFor(await signingKey('stranger'), CORP, sub),
        'The token is signed with a key that issuer "https://sso.corp.test" does not publish',
      ],
      [
        'a token with a tampered payload',
        async () => {
          const [header, , signature] = (await tokenFor(corpKey, CORP, sub)).split('.');
          const payload = Buffer.from(
            JSON.stringify({ iss: CORP, aud: AUDIENCE, sub: 'root', exp: now() + 300 }),
          ).toString('base64url');
          return `${header}.${payload}.${signature}`;
        },
        "The token's signature does not verify",
      ],
    ] as const)('should refuse %s', async (_, make, message) => {
      const token = await make();

      const response = await gql(server.url, token, ME);

      expectUnauthenticated(response, message);
      expect(JSON.stringify(response.body)).not.toContain(token.split('.')[2] || token);
    });

    it('should refuse a token of a subject that has no identity, when the issuer creates none', async () => {
      const stranger = unique('stranger');
      const response = await gql(server.url, await tokenFor(corpKey, CORP, stranger), ME);

      expectUnauthenticated(
        response,
        `No identity has externalId "${CORP}|${stranger}"; an administrator must create it`,
      );
      expect(await identitiesWithExternalId(`${CORP}|${stranger}`)).toBe(0);
    });

    it('should refuse a token whose identity is disabled', async () => {
      const disabledSub = unique('gone');
      const identity = await corpIdentity(disabledSub);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
          {
            id: identity.id,
          },
        ),
      );

      const response = await gql(server.url, await tokenFor(corpKey, CORP, disabledSub), ME);

      expectUnauthenticated(
        response,
        `The identity "${identity.name}" of this token's subject is disabled.`,
      );
    });

    it('should fail closed when the JWKS endpoint is down', async () => {
      const response = await gql(server.url, await tokenFor(corpKey, DOWN, 'someone'), ME);

      expectUnauthenticated(
        response,
        'The signing keys of issuer "https://down.corp.test" could not be loaded, so the token cannot be verified.',
      );
    });

    it('should fail closed when the JWKS endpoint does not answer in time', async () => {
      const response = await gql(server.url, await tokenFor(corpKey, SLOW, 'someone'), ME);

      expectUnauthenticated(
        response,
        'The signing keys of issuer "https://slow.corp.test" could not be fetched within 300 ms',
      );
    });
  });

  it('should follow key rotation: a new kid is fetched and accepted, a removed one refused', async () => {
    const sub = unique('rotating');
    const identity = await corpIdentity(sub);
    const oldToken = await tokenFor(corpKey, CORP, sub);
    expect(dataOf(await gql(server.url, oldToken, ME)).me.id).toBe(identity.id);
    const nextKey = await signingKey('corp-2');
    const fetchesBefore = jwks.fetches();

    try {
      // The provider publishes the next key beside the current one, then signs with it.
      jwks.setKeys([corpKey, nextKey, corpEcKey]);
      const newToken = await tokenFor(nextKey, CORP, sub);
      expect(dataOf(await gql(server.url, newToken, ME)).me.id).toBe(identity.id);
      expect(jwks.fetches()).toBe(fetchesBefore + 1);
      expect(dataOf(await gql(server.url, oldToken, ME)).me.id).toBe(identity.id);

      // The old key is withdrawn. Cached keys are used until the set is fetched again: on the
      // next unknown kid (here at once: no cooldown) or after jwksCacheMaxAgeMs.
      jwks.setKeys([nextKey, corpEcKey]);
      const unknownKid = await gql(
        server.url,
        await tokenFor(await signingKey('corp-3'), CORP, sub),
        ME,
      );
      const afterRemoval = await gql(server.url, oldToken, ME);

      expectUnauthenticated(unknownKid, 'does not publish');
      expectUnauthenticated(
        afterRemoval,
        'The token is signed with a key that issuer "https://sso.corp.test" does not publish',
      );
      expect(dataOf(await gql(server.url, newToken, ME)).me.id).toBe(identity.id);
    } finally {
      jwks.setKeys([corpKey, nextKey, corpEcKey]);
    }
  });

  it('should not refetch the JWKS for an unknown kid within the cooldown', async () => {
    const sub = unique('cool');
    const identity = await createIdentity(server, { kind: 'USER', externalId: `cool:${sub}` });
    const before = jwks.fetches();
    expect(dataOf(await gql(server.url, await tokenFor(corpKey, COOL, sub), ME)).me.id).toBe(
      identity.id,
    );
    const strangers = await Promise.all([signingKey('flood-1'), signingKey('flood-2')]);

    const refused = [];
    for (const key of strangers)
      refused.push(await gql(server.url, await tokenFor(key, COOL, sub), ME));

    for (const response of refused) expectUnauthenticated(response, 'does not publish');
    expect(jwks.fetches()).toBe(before + 1);
  });

  describe('identities created on first sight (createIdentities)', () => {
    it('should create one USER identity with zero grants under concurrent first requests', async () => {
      const sub = unique('newcomer');
      const username = unique('newcomer.name');
      const token = await signToken(autoKey, {
        iss: AUTO,
        aud: AUDIENCE,
        sub,
        preferred_username: username,
      });

      const responses = await Promise.all(
        Array.from({ length: 8 }, () =>
          gql(server.url, token, '{ me { id name kind externalId grants { id } } }'),
        ),
      );

      const ids = new Set(responses.map((r) => dataOf(r).me.id));
      expect(ids.size).toBe(1);
      expect(dataOf(responses[0] as (typeof responses)[number]).me).toMatchObject({
        name: username,
        kind: 'USER',
        externalId: `${AUTO}|${sub}`,
        grants: [],
      });
      expect(await identitiesWithExternalId(`${AUTO}|${sub}`)).toBe(1);
      const [id] = [...ids];
      const events = await server.database.query<{
        actor_id: string | null;
        details: Record<string, unknown>;
      }>(
        `select actor_id, details from audit_events where action = 'identity.created' and subject_id = $1`,
        [id],
      );
      expect(events).toHaveLength(1);
      expect(events[0]?.actor_id).toBeNull();
      expect(events[0]?.details).toMatchObject({
        after: { name: username, kind: 'USER', externalId: `${AUTO}|${sub}`, ownerId: null },
        token: { issuer: AUTO, subject: sub },
        request: { requestId: expect.any(String) },
      });
      expect(await grantsOf(id as string)).toBe(0);
    });

    it('should make the name unique when another identity already holds it', async () => {
      const taken = await createIdentity(server, { kind: 'USER' });
      const sub = unique('twin');
      const token = await signToken(autoKey, { iss: AUTO, aud: AUDIENCE, sub, email: taken.name });

      const me = dataOf(await gql(server.url, token, ME)).me;

      expect(me.id).not.toBe(taken.id);
      expect(me.name).toMatch(new RegExp(`^${taken.name}-[0-9a-f]{8}$`));
    });

    it('should expose amr, acr, groups and the configured claims as token.claims, and nothing else', async () => {
      const sub = unique('claims');
      const token = await signToken(autoKey, {
        iss: AUTO,
        aud: AUDIENCE,
        sub,
        amr: ['pwd', 'mfa'],
        acr: 'urn:mace:incommon:iap:silver',
        groups: ['payroll'],
        department: 'finance',
        email: 'claims@corp.test',
      });
      const tokens = new TokenAuthenticator(
        server.database,
        parseOidcIssuers(issuersJson),
        () => {},
      );

      const { caller } = await tokens.authenticate(token);

      expect(caller.keyId).toBeNull();
      expect(caller.token).toEqual({
        issuer: AUTO,
        subject: sub,
        expiresAt: expect.any(Date),
        claims: {
          amr: ['pwd', 'mfa'],
          acr: 'urn:mace:incommon:iap:silver',
          groups: ['payroll'],
          department: 'finance',
        },
        jkt: null,
        // The groups claim's values: TOKEN memberships count for these groups on its requests.
        groups: ['payroll'],
      });
      expect(caller.keyExpiresAt).toEqual(caller.token?.expiresAt);
    });

    it('should hold a token with cnf.jkt to a DPoP proof of that key', async () => {
      const sub = unique('bound');
      const identity = await corpIdentity(sub);
      const pair = await generateKeyPair('ES256');
      const jkt = await calculateThumbprint(pair.publicKey);
      const token = await tokenFor(corpKey, CORP, sub, { cnf: { jkt } });
      const thief = await generateKeyPair('ES256');
      const send = async (authorization: string, proof?: string) =>
        readResponse(
          await fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization,
              ...(proof === undefined ? {} : { dpop: proof }),
            },
            body: JSON.stringify({ query: '{ me { id } }' }),
          }),
        );
      const proofBy = (keys: typeof pair) =>
        generateProof(keys, `${server.url}/graphql`, 'POST', undefined, token);

      expectUnauthenticated(await send(`Bearer ${token}`), 'This token is bound to a DPoP key');
      expectUnauthenticated(
        await send(`DPoP ${token}`, await proofBy(thief)),
        'signed by a key other than',
      );
      const proven = await send(`DPoP ${token}`, await proofBy(pair));
      expect(dataOf(proven).me).toEqual({ id: identity.id });
      expectUnauthenticated(
        await send(`Bearer ${await tokenFor(corpKey, CORP, sub, { cnf: { x5t: 'a' } })}`),
        'only DPoP binding is supported',
      );
    });
  });

  describe('audit events of token callers', () => {
    it('should record the issuer and subject on change events and access events', async () => {
      const sub = unique('auditor');
      const actor = await corpIdentity(sub, ['identities:write', 'identities:read']);
      const token = await tokenFor(corpKey, CORP, sub);

      const created = dataOf(
        await gql(
          server.url,
          token,
          'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
          { input: { name: unique('made-by-token'), kind: 'SERVICE' } },
        ),
      ).createIdentity;

      const [change] = await server.database.query<{
        actor_id: string;
        details: Record<string, unknown>;
      }>(
        `select actor_id, details from audit_events where action = 'identity.created' and subject_id = $1`,
        [created.id],
      );
      expect(change?.actor_id).toBe(actor.id);
      expect(change?.details).toMatchObject({
        token: { issuer: CORP, subject: sub },
        request: { requestId: expect.any(String) },
      });
      const access = await expectEventually(
        () => accessEvents(server, actor.id),
        (rows) => rows.length > 0,
        'the access event of the token caller',
      );
      expect(access[0]?.details).toMatchObject({
        keyId: null,
        token: { issuer: CORP, subject: sub },
      });
    });
  });

  describe('over WebSocket', () => {
    it('should acknowledge connection_init carrying a token and answer as its identity', async () => {
      const sub = unique('ws');
      const identity = await corpIdentity(sub);
      const connected = await connectAs(server.url, await tokenFor(corpKey, CORP, sub));

      try {
        const { results } = await executeWs(connected.client, '{ me { id } }');
        expect(results).toEqual([{ data: { me: { id: identity.id } } }]);
      } finally {
        await connected.dispose();
      }
    });

    it('should close the socket with 4403 for an expired token', async () => {
      const sub = unique('ws-expired');
      await corpIdentity(sub);
      const now = Math.floor(Date.now() / 1000);
      const client = openWsClient(
        server.url,
        bearer(await tokenFor(corpKey, CORP, sub, { exp: now - 5 })),
      );

      const closed = await within(client.closed, 5000, 'the close');

      expect(closed.code).toBe(4403);
    });

    it('should end a subscription with FORBIDDEN once its token expires', async () => {
      const sub = unique('ws-expiring');
      await corpIdentity(sub, ['audit:read']);
      const expiresAt = Date.now() + 2000;
      const token = await tokenFor(corpKey, CORP, sub, { exp: Math.floor(expiresAt / 1000) });
      const connected = await connectAs(server.url, token);

      try {
        const recorder = subscribeToAudit(connected.client, { action: 'identity.created' });
        await primeSubscriptions([recorder], () => markerIdentity(server));
        expect(recorder.ending).toBeUndefined();

        await within(
          recorder.ended,
          Math.max(expiresAt + 3000 - Date.now(), 0),
          'the end of the subscription after its token expired',
        );

        await expectEndedForbidden(recorder);
      } finally {
        await connected.dispose();
      }
    });
  });

  async function identitiesWithExternalId(externalId: string): Promise<number> {
    const [row] = await server.database.query<{ n: number }>(
      'select count(*)::int as n from identities where external_id = $1',
      [externalId],
    );
    return Number(row?.n);
  }

  async function grantsOf(identityId: string): Promise<number> {
    const [row] = await server.database.query<{ n: number }>(
      'select count(*)::int as n from grants where identity_id = $1',
      [identityId],
    );
    return Number(row?.n);
  }
});

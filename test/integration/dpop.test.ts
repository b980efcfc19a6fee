import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql, readResponse } from '../fixtures/gql.js';
import { createIdentity, grant } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';
import { openWsClient, within } from '../fixtures/ws.js';

const ME = '{ me { id } }';
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id jkt } }
}`;

let counter = 0;
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** A POST to `/graphql` with `Authorization: <scheme> <key>` and, when given, a `DPoP` header. */
async function post(
  url: string,
  authorization: string,
  proof: string | null,
  query = ME,
): Promise<GqlResponse & { challenge: string | null }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization,
  };
  if (proof !== null) headers.dpop = proof;
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query }),
  });
  return { ...(await readResponse(response)), challenge: response.headers.get('www-authenticate') };
}

/** A bound key for a new SERVICE holding `identities:read`, and the key pair it is bound to. */
async function boundKey(server: TestServer, alg: 'ES256' | 'Ed25519' = 'ES256') {
  const pair = await generateKeyPair(alg);
  const jkt = await calculateThumbprint(pair.publicKey);
  const identity = await createIdentity(server, { kind: 'SERVICE' });
  await grant(server, identity.id, { scope: 'identities:read' });
  const made = dataOf(
    await gql(server.url, server.adminKey, CREATE_KEY, {
      input: { identityId: identity.id, name: unique('bound'), jkt },
    }),
  );
  const { secret, apiKey } = made.createApiKey as { secret: string; apiKey: { jkt: string } };
  expect(apiKey.jkt).toBe(jkt);
  return { pair, jkt, secret, identity };
}

const proofFor = (pair: KeyPair, url: string, key: string, method = 'POST') =>
  generateProof(pair, `${url}/graphql`, method, undefined, key);

function expectProofRefused(
  response: GqlResponse & { challenge: string | null },
  message: string | RegExp,
): void {
  const error = expectError(response, 'UNAUTHENTICATED', message);
  expect(response.status).toBe(401);
  expect(error.extensions?.reason).toBe('INVALID_DPOP_PROOF');
  expect(response.challenge).toMatch(/^DPoP error="invalid_dpop_proof", error_description="/);
}

describe.each(engines())('DPoP-bound credentials on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(['ES256', 'Ed25519'] as const)(
    'should authenticate a bound key with a fresh %s proof of its key',
    async (alg) => {
      const { pair, secret, identity } = await boundKey(server, alg);

      const response = await post(
        server.url,
        `DPoP ${secret}`,
        await proofFor(pair, server.url, secret),
      );

      expect(dataOf(response).me).toEqual({ id: identity.id });
    },
  );

  it('should authenticate a stolen bound key 0 times without its private key', async () => {
    const { secret } = await boundKey(server);
    const thief = await generateKeyPair('ES256');
    const attempts = [
      await post(server.url, `Bearer ${secret}`, null),
      await post(server.url, `DPoP ${secret}`, null),
      await post(server.url, `DPoP ${secret}`, await proofFor(thief, server.url, secret)),
      await post(server.url, `Bearer ${secret}`, await proofFor(thief, server.url, secret)),
    ];

    expect(attempts.filter((r) => r.status === 200 && r.body.data)).toHaveLength(0);
    expectProofRefused(attempts[0] as never, 'is bound to a DPoP key');
    expectProofRefused(attempts[1] as never, 'must carry a DPoP proof');
    expectProofRefused(attempts[2] as never, 'signed by a key other than');
    expectProofRefused(attempts[3] as never, 'is bound to a DPoP key');
  });

  it('should refuse a proof used a second time', async () => {
    const { pair, secret } = await boundKey(server);
    const proof = await proofFor(pair, server.url, secret);

    expect(dataOf(await post(server.url, `DPoP ${secret}`, proof)).me).toBeTruthy();
    expectProofRefused(await post(server.url, `DPoP ${secret}`, proof), 'already used');
  });

  it('should refuse a proof for another method, URL, credential or time', async () => {
    const { pair, secret } = await boundKey(server);
    const other = await boundKey(server);
    const old = await new SignJWT({
      htm: 'POST',
      htu: `${server.url}/graphql`,
      jti: unique('jti'),
      ath: createHash('sha256').update(secret).digest('base64url'),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(pair.publicKey) })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .sign(pair.privateKey);
    const unsignedHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt' })).toString(
      'base64url',
    );

    const cases: [string | null, RegExp][] = [
      [await proofFor(pair, server.url, secret, 'GET'), /is for method "GET", not POST/],
      [await generateProof(pair, `${server.url}/other`, 'POST', undefined, secret), /"htu"/],
      [await proofFor(pair, server.url, other.secret), /"ath"/],
      [old, /older than 60 seconds|outside the accepted window/],
      [`${unsignedHeader}.e30.`, /carries no public key/],
      ['not-a-jwt', /not a well-formed JWT/],
    ];
    for (const [proof, message] of cases) {
      expectProofRefused(await post(server.url, `DPoP ${secret}`, proof), message);
    }
  });

  it('should compare htu without the query string', async () => {
    const { pair, secret, identity } = await boundKey(server);
    const proof = await generateProof(pair, `${server.url}/graphql`, 'GET', undefined, secret);

    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(ME)}`, {
      headers: {
        authorization: `DPoP ${secret}`,
        dpop: proof,
        accept: 'application/json',
        'apollo-require-preflight': 'true',
      },
    });

    expect(dataOf(await readResponse(response)).me).toEqual({ id: identity.id });
  });

  it('should accept a proof with an unbound key, and refuse one without a proof under DPoP', async () => {
    const pair = await generateKeyPair('ES256');
    const key = server.adminKey;

    expect(
      dataOf(await post(server.url, `DPoP ${key}`, await proofFor(pair, server.url, key))).me,
    ).toBeTruthy();
    expectProofRefused(await post(server.url, `DPoP ${key}`, null), 'must carry a DPoP proof');
    // A 401 without DPoP says which schemes are accepted.
    const plain = await post(server.url, 'Bearer kh_unknown', null);
    expect(plain.challenge).toMatch(/^Bearer, DPoP algs="/);
  });

  it('should refuse a malformed jkt', async () => {
    const identity = await createIdentity(server);
    expectError(
      await gql(server.url, server.adminKey, CREATE_KEY, {
        input: { identityId: identity.id, name: unique('bad'), jkt: 'short' },
      }),
      'BAD_USER_INPUT',
      'jkt must be the base64url SHA-256 thumbprint of a JWK',
    );
  });

  it('should check the proof at connection_init on a WebSocket', async () => {
    const { pair, secret } = await boundKey(server);
    const proof = await generateProof(pair, `${server.url}/graphql`, 'GET', undefined, secret);

    const good = openWsClient(server.url, { authorization: `DPoP ${secret}`, dpop: proof });
    await within(good.acknowledged, 5000, 'connection_ack');
    await good.dispose();

    const replayed = openWsClient(server.url, { authorization: `DPoP ${secret}`, dpop: proof });
    expect((await within(replayed.closed, 5000, 'the close')).code).toBe(4403);
    const bearer = openWsClient(server.url, { authorization: `Bearer ${secret}` });
    expect((await within(bearer.closed, 5000, 'the close')).code).toBe(4403);
  });

  it('should refuse a bound key used as a bearer at SCIM with the DPoP challenge', async () => {
    const { secret } = await boundKey(server);

    const refused = await fetch(`${server.url}/scim/v2/Users`, {
      headers: { authorization: `Bearer ${secret}` },
    });

    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(await refused.text()).toContain('is bound to a DPoP key');
  });

  it('should check the proof of the caller of AuthZEN', async () => {
    const { pair, secret } = await boundKey(server);
    const url = `${server.url}/access/v1/evaluation`;
    const ask = (authorization: string, proof: string | null) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization,
          ...(proof === null ? {} : { dpop: proof }),
        },
        body: JSON.stringify({
          subject: { type: 'identity', id: server.adminId },
          action: { name: 'identities:read' },
          resource: { type: 'x', id: 'y' },
        }),
      });

    const refused = await ask(`Bearer ${secret}`, null);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    // Proven, the caller is authenticated (and lacks decisions:execute).
    const proven = await ask(
      `DPoP ${secret}`,
      await generateProof(pair, url, 'POST', undefined, secret),
    );
    expect(proven.status).toBe(403);
  });
});

/** A POST of `{ me }` to `url` with its `Host` header set (which fetch does not allow). */
function postWithHost(
  url: string,
  host: string,
  authorization: string,
  proof: string,
): Promise<{ status: number; body: string }> {
  const target = new URL(`${url}/graphql`);
  const payload = JSON.stringify({ query: ME });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          host,
          authorization,
          dpop: proof,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe.skipIf(!process.env.DATABASE_URL)('DPoP replay across instances on postgres', () => {
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances();
  });

  afterAll(async () => {
    await instances?.stop();
  });

  it('should let a proof authenticate once, whichever instance sees it', async () => {
    const { a, b } = instances;
    const { pair, secret } = await boundKey(a);
    // Both instances answer on their own port: the proof names the URL of the first.
    const proof = await proofFor(pair, a.url, secret);

    expect(dataOf(await post(a.url, `DPoP ${secret}`, proof)).me).toBeTruthy();
    // The same proof at the second instance, as if reached through the same origin.
    const replay = await postWithHost(b.url, new URL(a.url).host, `DPoP ${secret}`, proof);

    expect(replay.status).toBe(401);
    expect(replay.body).toContain('already used');
  });
});

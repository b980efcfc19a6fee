import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { type GqlResponse, gql, readResponse } from '../fixtures/gql.js';
import {
  createKey,
  identityWithGrants,
  type SeededKey,
  type SeededPrincipal,
  sleep,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const ME = '{ me { id name } }';

describe.each(engines())('authentication on %s', (engine) => {
  let server: TestServer;
  let active: SeededPrincipal;
  let revoked: SeededPrincipal;
  let disabled: SeededPrincipal;
  let expired: SeededKey;

  beforeAll(async () => {
    server = await startTestServer(engine);
    active = await identityWithGrants(server, ['identities:read']);
    revoked = await identityWithGrants(server, ['identities:read']);
    disabled = await identityWithGrants(server, ['identities:read']);
    expired = await createKey(server, active.id, { ttlSeconds: 1 });
    await gql(server.url, server.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', {
      id: revoked.keyId,
    });
    await gql(
      server.url,
      server.adminKey,
      'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
      {
        id: disabled.id,
      },
    );
    // Let the one-second key pass its expiry (not a timing assertion: only waiting past it).
    const expiresAt = Date.parse(expired.expiresAt ?? '');
    await sleep(Math.max(0, expiresAt - Date.now()) + 150);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const post = (headers: Record<string, string>, query = ME) =>
    fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    }).then((r) => readResponse(r));

  it('should answer a valid key with the caller', async () => {
    const response = await gql(server.url, active.key, ME);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { me: { id: active.id, name: active.name } },
      extensions: { revision: expect.stringMatching(/^\d+$/) },
    });
  });

  it('should refuse a request without an Authorization header with UNAUTHENTICATED', async () => {
    const response = await gql(server.url, null, ME);

    expectUnauthenticated(response, 'Authentication required');
    expect(response.body.errors?.[0]?.message).toContain('Authorization: Bearer <api key>');
  });

  it.each([
    ['a Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['a bare key', 'kh_test_bootstrap_admin_key_for_integration_specs'],
    ['Bearer with nothing after it', 'Bearer '],
    ['Bearer with two words', 'Bearer one two'],
  ])(
    'should refuse a malformed Authorization header (%s) with UNAUTHENTICATED',
    async (_, header) => {
      const response = await post({ authorization: header });

      expectUnauthenticated(response, 'The Authorization header must be "Bearer <api key>".');
    },
  );

  it('should refuse an unknown key with UNAUTHENTICATED', async () => {
    const response = await gql(server.url, 'kh_00000000_thisKeyWasNeverIssuedByKeyholder00000', ME);

    expectError(response, 'UNAUTHENTICATED', 'The API key is not recognised.');
    expect(response.body.data ?? null).toBeNull();
  });

  it('should refuse a revoked key with UNAUTHENTICATED naming its prefix', async () => {
    const prefix = revoked.key.slice(0, 11);
    const response = await gql(server.url, revoked.key, ME);

    expectError(response, 'UNAUTHENTICATED', `API key ${prefix} has been revoked.`);
    expect(response.body.data ?? null).toBeNull();
  });

  it('should refuse an expired key with UNAUTHENTICATED naming its prefix', async () => {
    const response = await gql(server.url, expired.secret, ME);

    expectError(response, 'UNAUTHENTICATED', `API key ${expired.prefix} has expired.`);
    expect(response.body.data ?? null).toBeNull();
  });

  it('should refuse the key of a disabled identity with UNAUTHENTICATED', async () => {
    const prefix = disabled.key.slice(0, 11);
    const response = await gql(server.url, disabled.key, ME);

    expectError(response, 'UNAUTHENTICATED', `The identity of API key ${prefix} is disabled.`);
    expect(response.body.data ?? null).toBeNull();
  });

  it('should answer every kind of unauthenticated request with HTTP 401', async () => {
    const responses: Record<string, GqlResponse<unknown>> = {
      missing: await gql(server.url, null, ME),
      malformed: await post({ authorization: 'Basic abc' }),
      unknown: await gql(server.url, 'kh_00000000_thisKeyWasNeverIssuedByKeyholder00000', ME),
      revoked: await gql(server.url, revoked.key, ME),
      expired: await gql(server.url, expired.secret, ME),
      disabled: await gql(server.url, disabled.key, ME),
    };
    const statuses = Object.fromEntries(Object.entries(responses).map(([k, r]) => [k, r.status]));
    const codes = Object.fromEntries(
      Object.entries(responses).map(([k, r]) => [k, r.body.errors?.[0]?.extensions?.code]),
    );

    expect(codes).toEqual({
      missing: 'UNAUTHENTICATED',
      malformed: 'UNAUTHENTICATED',
      unknown: 'UNAUTHENTICATED',
      revoked: 'UNAUTHENTICATED',
      expired: 'UNAUTHENTICATED',
      disabled: 'UNAUTHENTICATED',
    });
    expect(statuses).toEqual({
      missing: 401,
      malformed: 401,
      unknown: 401,
      revoked: 401,
      expired: 401,
      disabled: 401,
    });
  });

  describe('without a valid key nothing about the schema is revealed', () => {
    const probes = [
      ['a syntax error', '{ me { id '],
      ['an unknown field', '{ mee { id } }'],
      ['an unknown argument', '{ identities(firts: 1) { nodes { id } } }'],
      ['an introspection query', '{ __schema { types { name } } }'],
      ['a mutation', 'mutation { createIdentity(input: { name: "x", kind: USER }) { id } }'],
    ] as const;

    it.each(probes)(
      'should answer %s without a key with UNAUTHENTICATED only',
      async (_, query) => {
        const response = await gql(server.url, null, query);

        expectError(response, 'UNAUTHENTICATED', 'Authentication required');
        expect(response.body.errors).toHaveLength(1);
        expect(response.body.data ?? null).toBeNull();
        const text = JSON.stringify(response.body);
        expect(text).not.toMatch(
          /Syntax Error|Cannot query|Unknown argument|Did you mean|__schema/,
        );
      },
    );

    it.each(probes)(
      'should answer %s with an unknown key with UNAUTHENTICATED only',
      async (_, query) => {
        const response = await gql(
          server.url,
          'kh_00000000_unknownunknownunknownunknown00000',
          query,
        );

        expectError(response, 'UNAUTHENTICATED', 'The API key is not recognised.');
        expect(response.body.errors).toHaveLength(1);
        expect(response.body.data ?? null).toBeNull();
        const text = JSON.stringify(response.body);
        expect(text).not.toMatch(
          /Syntax Error|Cannot query|Unknown argument|Did you mean|__schema/,
        );
      },
    );
  });

  it('should refuse a GET query without a key with UNAUTHENTICATED', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(ME)}`, {
      headers: { 'apollo-require-preflight': 'true' },
    }).then((r) => readResponse(r));

    expectUnauthenticated(response, 'Authentication required');
  });

  it('should authenticate a GET query with a valid key', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(ME)}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${active.key}` },
    }).then((r) => readResponse(r));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { me: { id: active.id, name: active.name } },
      extensions: { revision: expect.stringMatching(/^\d+$/) },
    });
  });

  it('should mark every answer uncacheable (Cache-Control: no-store), refused or not', async () => {
    const answered = await gql(server.url, active.key, ME);
    const refused = await gql(server.url, revoked.key, ME);
    const invalid = await gql(server.url, active.key, '{ me { id ');

    expect([answered.status, refused.status, invalid.status]).toEqual([200, 401, 400]);
    expect(answered.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(invalid.headers.get('cache-control')).toBe('no-store');
  });
});

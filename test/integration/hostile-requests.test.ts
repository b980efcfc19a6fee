import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql, readResponse } from '../fixtures/gql.js';
import { identityWithGrants, unique } from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

/** `{ me { grants { identity { grants { ... id } } } } }` with `depth` levels of fields. */
function nested(depth: number): string {
  const fields = ['me'];
  // A chain of single objects: depth alone, no list to multiply (see the cost spec below).
  for (let i = 1; i < depth - 1; i += 1) fields.push('owner');
  return `{ ${fields.join(' { ')} { id ${'} '.repeat(fields.length)}}`;
}

function aliased(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
}

/** A query of exactly `tokens` lexical tokens: `{ me { id id ... } }`. */
function tokens(count: number): string {
  return `{ me { ${Array.from({ length: count - 5 }, () => 'id').join(' ')} } }`;
}

describe.each(engines())('hostile requests on %s', (engine) => {
  let server: TestServer;

  const raw = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init);
  const authorized = (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${server.adminKey}`,
    ...extra,
  });

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('query limits', () => {
    it('should answer a query 10 fields deep', async () => {
      const response = await gql(server.url, server.adminKey, nested(10));

      expect(response.body.errors).toBeUndefined();
      expect(response.status).toBe(200);
    });

    it('should refuse a query deeper than 10 before executing it', async () => {
      const response = await gql(server.url, server.adminKey, nested(11));

      expectError(response, 'GRAPHQL_VALIDATION_FAILED', 'Query depth limit of 10 exceeded');
      expect(response.status).toBe(400);
      expect(response.body.data ?? null).toBeNull();
    });

    it('should refuse a self-access walk whose lists multiply, before running it (costs count lists)', async () => {
      const caller = await identityWithGrants(server, [], { kind: 'USER' });
      for (let i = 0; i < 5; i++) await identityWithGrants(server, []);
      const walk =
        '{ me { grants { identity { grants { identity { grants { identity { grants { id } } } } } } } } }';

      const refused = await gql(server.url, caller.key, walk);

      expectError(refused, 'GRAPHQL_VALIDATION_FAILED', 'over the limit of 500,000');
      expect(refused.status).toBe(400);
      expect(refused.body.data ?? null).toBeNull();
      // Pages count by their size: a wide but flat question is fine.
      const wide = await gql(
        server.url,
        server.adminKey,
        '{ identities(first: 500) { nodes { name grants { id scope { name } } } } }',
      );
      expect(wide.body.errors).toBeUndefined();
      const tooWide = await gql(
        server.url,
        server.adminKey,
        '{ identities(first: 500) { nodes { grants { identity { grants { identity { id } } } } } } }',
      );
      expectError(tooWide, 'GRAPHQL_VALIDATION_FAILED', 'over the limit');
    });

    it('should answer 15 aliases and refuse 16', async () => {
      const fifteen = await gql(server.url, server.adminKey, aliased(15));
      const sixteen = await gql(server.url, server.adminKey, aliased(16));

      expect(Object.keys(dataOf(fifteen))).toHaveLength(15);
      expectError(sixteen, 'GRAPHQL_VALIDATION_FAILED', 'Aliases limit of 15 exceeded');
      expect(sixteen.status).toBe(400);
      expect(sixteen.body.data ?? null).toBeNull();
    });

    it('should not execute any of 16 aliased mutations', async () => {
      const before = await snapshot(server);
      const tag = unique('alias');
      const mutation = `mutation { ${Array.from(
        { length: 16 },
        (_, i) => `a${i}: createIdentity(input: { name: "${tag}-${i}", kind: USER }) { id }`,
      ).join(' ')} }`;

      const response = await gql(server.url, server.adminKey, mutation);

      expectError(response, 'GRAPHQL_VALIDATION_FAILED', 'Aliases limit of 15 exceeded');
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse more than 2000 tokens as a client error (HTTP 400)', async () => {
      const response = await gql(server.url, server.adminKey, tokens(2001));

      const code = response.body.errors?.[0]?.extensions?.code;
      expect(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']).toContain(code);
      expect(response.body.errors?.[0]?.message).toMatch(/2000/);
      expect(response.body.data ?? null).toBeNull();
      expect(response.status).toBe(400);
    });
  });

  describe('HTTP shape', () => {
    it('should refuse a batched JSON array body without executing any of it', async () => {
      const before = await snapshot(server);
      const response = await raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: JSON.stringify([
          { query: '{ me { id } }' },
          {
            query: `mutation { createIdentity(input: { name: "${unique('batch')}", kind: USER }) { id } }`,
          },
        ]),
      }).then(readResponse);

      expect(response.status).toBe(400);
      expectError(response, 'BAD_REQUEST', 'Operation batching disabled.');
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse a body over 100 KiB with 413 and a JSON GraphQL error', async () => {
      const before = await snapshot(server);
      const response = await raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: JSON.stringify({
          query: `mutation($d: String) { createIdentity(input: { name: "${unique('big')}", kind: USER, externalId: $d }) { id } }`,
          variables: { d: 'x'.repeat(100 * 1024) },
        }),
      });

      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      const body = await readResponse(response);
      expectError(body, 'BAD_REQUEST', 'The request body is larger than the 102400 bytes allowed.');
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse a body that is not JSON with 400 and a JSON GraphQL error', async () => {
      const response = await raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: '{"query": "{ me { id } }"',
      }).then(readResponse);

      expect(response.status).toBe(400);
      expectError(response, 'BAD_REQUEST', 'The request body is not valid JSON.');
    });

    it.each([
      [
        'a charset other than UTF-8',
        { 'content-type': 'application/json; charset=latin1' },
        `The request body's charset "latin1" is not supported; send UTF-8.`,
      ],
      [
        'a Content-Encoding it cannot read',
        { 'content-type': 'application/json', 'content-encoding': 'compress' },
        `The request body's Content-Encoding "compress" is not supported.`,
      ],
    ])(
      'should refuse a body in %s with 415 and a JSON GraphQL error',
      async (_, headers, message) => {
        const before = await snapshot(server);
        const response = await raw('/graphql', {
          method: 'POST',
          headers: authorized(headers),
          body: JSON.stringify({
            query: `mutation { createIdentity(input: { name: "${unique('enc')}", kind: USER }) { id } }`,
          }),
        });

        expect(response.status).toBe(415);
        expect(response.headers.get('content-type')).toMatch(/application\/json/);
        expectError(await readResponse(response), 'BAD_REQUEST', message);
        expect(await snapshot(server)).toEqual(before);
      },
    );

    it('should refuse a JSON body without a query with 400', async () => {
      const response = await raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: JSON.stringify({ nothing: true }),
      }).then(readResponse);

      expect(response.status).toBe(400);
      expect(response.body.data ?? null).toBeNull();
      expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    });
  });

  describe('CSRF', () => {
    const ME = `/graphql?query=${encodeURIComponent('{ me { id } }')}`;

    it('should block a GET query that a browser could send cross-site', async () => {
      const response = await raw(ME, { headers: authorized() }).then(readResponse);

      expect(response.status).toBe(400);
      expectError(response, 'BAD_REQUEST', 'Cross-Site Request Forgery');
      expect(response.body.data ?? null).toBeNull();
    });

    it('should block a POST with a text/plain body', async () => {
      const before = await snapshot(server);
      const response = await raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'text/plain' }),
        body: JSON.stringify({
          query: `mutation { createIdentity(input: { name: "${unique('csrf')}", kind: USER }) { id } }`,
        }),
      }).then(readResponse);

      expect(response.status).toBe(400);
      expectError(response, 'BAD_REQUEST', 'Cross-Site Request Forgery');
      expect(await snapshot(server)).toEqual(before);
    });

    it('should answer a GET query with apollo-require-preflight', async () => {
      const response = await raw(ME, {
        headers: authorized({ 'apollo-require-preflight': 'true' }),
      }).then(readResponse);

      expect(response.status).toBe(200);
      expect(dataOf(response).me.id).toBe(server.adminId);
    });

    it('should refuse a mutation over GET, executing nothing', async () => {
      const before = await snapshot(server);
      const query = `mutation { createIdentity(input: { name: "${unique('get')}", kind: USER }) { id } }`;
      const response = await raw(`/graphql?query=${encodeURIComponent(query)}`, {
        headers: authorized({ 'apollo-require-preflight': 'true' }),
      }).then(readResponse);

      expect(response.status).toBe(405);
      expect(response.body.data ?? null).toBeNull();
      expect(await snapshot(server)).toEqual(before);
    });
  });

  describe('schema disclosure', () => {
    it.each([
      ['a misspelt root field', '{ mee { id } }'],
      ['a misspelt nested field', '{ me { nme } }'],
      ['a misspelt argument', '{ identities(frist: 1) { nodes { id } } }'],
      [
        'a misspelt input field',
        'mutation { createIdentity(input: { nme: "x", kind: USER }) { id } }',
      ],
      [
        'a misspelt enum value',
        'mutation { createIdentity(input: { name: "x", kind: USR }) { id } }',
      ],
      ['a misspelt type', 'query($f: IdentityFiltr) { identities(filter: $f) { nodes { id } } }'],
    ])('should not suggest field names for %s', async (_, query) => {
      const response = await gql(server.url, server.adminKey, query);

      expect(response.status).toBe(400);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(JSON.stringify(response.body)).not.toMatch(/did you mean/i);
    });

    it('should answer introspection for an authenticated caller', async () => {
      const data = dataOf(
        await gql(
          server.url,
          server.adminKey,
          '{ __schema { queryType { name } mutationType { name } } __type(name: "Grant") { fields { name } } }',
        ),
      );

      expect(data.__schema).toEqual({
        queryType: { name: 'Query' },
        mutationType: { name: 'Mutation' },
      });
      expect(data.__type.fields.map((f: { name: string }) => f.name)).toEqual(
        expect.arrayContaining([
          'id',
          'identity',
          'scope',
          'resource',
          'grantable',
          'expiresAt',
          'active',
        ]),
      );
    });

    it("should answer the standard introspection query tools send (GraphiQL's)", async () => {
      const data = dataOf(await gql(server.url, server.adminKey, getIntrospectionQuery()));

      const types = data.__schema.types.map((t: { name: string }) => t.name);
      expect(types).toEqual(
        expect.arrayContaining(['Identity', 'Grant', 'ApiKey', 'Scope', 'Decision']),
      );
      expect(data.__schema.directives.map((d: { name: string }) => d.name)).toContain('requires');
    });
  });

  describe('other paths', () => {
    it('should answer /healthz with 200 while the database answers', async () => {
      const response = await raw('/healthz');

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', database: engine });
    });

    it.each([
      ['GET', '/'],
      ['GET', '/graphq'],
      ['GET', '/admin'],
      ['GET', '/graphql/../etc/passwd'],
      // Only GET and HEAD read /healthz, /livez, /readyz and /metrics.
      ['POST', '/healthz'],
      ['POST', '/metrics'],
      ['GET', '/metrics/x'],
    ])('should answer %s %s with a JSON 404', async (method, path) => {
      const response = await raw(path, { method });

      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(await response.json()).toEqual({
        errors: [
          {
            message:
              'Not found: Keyholder serves /graphql, /access/v1, /scim/v2, /healthz, /livez, /readyz, /metrics and /.well-known/keyholder-audit-keys.',
            extensions: { code: 'NOT_FOUND' },
          },
        ],
      });
    });

    it('should answer HEAD /healthz with the status of GET and no body', async () => {
      const response = await raw('/healthz', { method: 'HEAD' });

      expect(response.status).toBe(200);
      expect(await response.text()).toBe('');
    });

    it('should serve /graphql/ with a trailing slash as /graphql', async () => {
      const response = await raw('/graphql/', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: JSON.stringify({ query: '{ me { id } }' }),
      }).then(readResponse);

      expect(response.status).toBe(200);
      expect(dataOf(response).me.id).toBe(server.adminId);
    });

    it('should not advertise the framework', async () => {
      const response = await raw('/healthz');

      expect(response.headers.get('x-powered-by')).toBeNull();
    });
  });

  // Issue 20.8: what answered INTERNAL_SERVER_ERROR (or was accepted) where a clean error belongs.
  describe('clean errors, not 500s', () => {
    const post = (body: unknown) =>
      raw('/graphql', {
        method: 'POST',
        headers: authorized({ 'content-type': 'application/json' }),
        body: JSON.stringify(body),
      }).then(readResponse);

    it('should refuse a subscription operation over HTTP with BAD_REQUEST, pointing to WebSocket', async () => {
      const response = await post({ query: 'subscription { auditEvents { id } }' });

      expect(response.status).toBe(400);
      expectError(response, 'BAD_REQUEST', 'served over WebSocket');
    });

    it('should refuse a persisted query whose hash is not its query’s with BAD_REQUEST', async () => {
      const response = await post({
        query: '{ me { id } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } },
      });

      expectError(response, 'BAD_REQUEST', 'sha256Hash is not the SHA-256');
    });

    it('should refuse NUL in identity filters with BAD_USER_INPUT naming the field', async () => {
      for (const filter of [{ nameContains: 'a\u0000b' }, { externalId: 'x\u0000' }]) {
        const response = await gql(
          server.url,
          server.adminKey,
          'query($f: IdentityFilter) { identities(first: 1, filter: $f) { nodes { id } } }',
          { f: filter },
        );
        expectError(response, 'BAD_USER_INPUT', 'control characters');
      }
    });

    it('should refuse look-alike identity and group names, and normalise compatibility forms', async () => {
      const before = await snapshot(server);
      for (const name of ['bootstrap-admin\u200b', 'evil\u202egnp.exe', 'a\u2066b', 'ro\ufeffot']) {
        expectError(
          await gql(
            server.url,
            server.adminKey,
            'mutation($name: String!) { createIdentity(input: { name: $name, kind: USER }) { id } }',
            { name },
          ),
          'BAD_USER_INPUT',
          'invisible or bidirectional control characters',
        );
        expectError(
          await gql(
            server.url,
            server.adminKey,
            'mutation($name: String!) { createGroup(input: { name: $name }) { id } }',
            { name },
          ),
          'BAD_USER_INPUT',
          'invisible or bidirectional control characters',
        );
      }
      expect(await snapshot(server)).toEqual(before);
      const tag = unique('wide');
      const made = dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($name: String!) { createIdentity(input: { name: $name, kind: USER }) { name } }',
          { name: `ｆｕｌｌ-${tag}` },
        ),
      ).createIdentity as { name: string };
      expect(made.name).toBe(`full-${tag}`);
    });
  });
});

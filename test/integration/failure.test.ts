import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { type GqlResponse, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** Anything that would tell an attacker about the database, the code or the host. */
const LEAKS =
  /select |insert |update |from "|relation|does not exist|syntax error|pglite|postgres|5432|127\.0\.0\.1|localhost|ECONN|CONNECTION_|\.ts:|\.js:|node_modules|stacktrace|\bat [\w.<>]+ \(/i;

function expectMasked(response: GqlResponse<unknown>): void {
  const error = expectError(response, 'INTERNAL_SERVER_ERROR');
  expect(error.message).toMatch(/^Internal server error \(reference [a-z0-9]+\)\.$/);
  expect(Object.keys(error.extensions ?? {}).sort()).toEqual(['code', 'reference']);
  expect(JSON.stringify(response.body)).not.toMatch(LEAKS);
}

describe.each(engines())('failure on %s', (engine) => {
  let server: TestServer;
  let reader: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine);
    reader = await identityWithGrants(server, ['scopes:read', 'identities:read']);
  });

  afterAll(async () => {
    // The database was closed underneath the server on purpose; closing it again may throw.
    await server?.stop().catch(() => undefined);
  });

  describe('while a statement fails inside a resolver', () => {
    beforeAll(async () => {
      await server.database.query(
        'alter table scopes rename column description to hidden_description',
      );
    });

    afterAll(async () => {
      await server.database.query(
        'alter table scopes rename column hidden_description to description',
      );
    });

    it('should mask the failing field and keep the rest of the response', async () => {
      const response = await gql(
        server.url,
        reader.key,
        '{ me { id } scope(name: "grants:read") { name description } }',
      );

      expectMasked(response);
      expect(response.body.errors?.[0]?.path).toEqual(['scope']);
      expect(response.body.data).toEqual({ me: { id: reader.id }, scope: null });
    });

    it('should log the real error under the reference the client got', async () => {
      const response = await gql(server.url, reader.key, '{ scope(name: "scopes:read") { name } }');

      const reference = response.body.errors?.[0]?.extensions?.reference;
      expect(reference).toEqual(expect.any(String));
      const logged = server.logs.find((l) => l.message.includes(String(reference)));
      expect(logged?.error).toBeDefined();
      expect(String(logged?.error)).toMatch(/description/);
    });
  });

  describe('once the database is gone', () => {
    beforeAll(async () => {
      await server.database.close();
    });

    it.each([
      ['a query', '{ identities { nodes { id name } } }'],
      ['me', '{ me { id name grants { id } } }'],
      ['a mutation', 'mutation { createIdentity(input: { name: "never", kind: USER }) { id } }'],
    ])('should refuse %s with a masked INTERNAL_SERVER_ERROR and no data', async (_, query) => {
      const response = await gql(server.url, server.adminKey, query);

      expectMasked(response);
      expect(response.status).toBeGreaterThanOrEqual(500);
      expect(response.body.data ?? null).toBeNull();
    });

    it('should serve nothing protected to a key that worked a moment ago', async () => {
      const response = await gql(server.url, reader.key, '{ scopes { name } }');

      expectMasked(response);
      expect(response.body.data ?? null).toBeNull();
    });

    it('should answer /healthz with 503', async () => {
      const response = await fetch(`${server.url}/healthz`);

      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        status: 'unavailable',
        database: engine,
        accessLog: null,
      });
    });

    it('should still refuse unauthenticated requests with UNAUTHENTICATED', async () => {
      const response = await gql(server.url, null, '{ me { id } }');

      expectError(response, 'UNAUTHENTICATED', 'Authentication required');
    });
  });
});

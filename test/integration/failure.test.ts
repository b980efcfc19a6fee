import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { type GqlResponse, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** Anything that would tell an attacker about the database, the code or the host. */
const LEAKS =
  /select |insert |update |from "|relation|does not exist|syntax error|pglite|postgres|5432|127\.0\.0\.1|localhost|ECONN|CONNECTION_|\.ts:|\.js:|node_modules|stacktrace|\bat [\w.<>]+ \(/i;

/** A refusal because the database did not answer: 503, a sentence, a reference, nothing leaked. */
function expectUnavailable(response: GqlResponse<unknown>): void {
  const error = expectError(response, 'SERVICE_UNAVAILABLE', 'The database did not answer in time');
  expect(Object.keys(error.extensions ?? {}).sort()).toEqual(['code', 'reference']);
  expect(response.status).toBe(503);
  expect(response.body.data ?? null).toBeNull();
  expect(JSON.stringify(response.body)).not.toMatch(LEAKS);
}

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
    ])('should refuse %s with SERVICE_UNAVAILABLE (503) and no data', async (_, query) => {
      expectUnavailable(await gql(server.url, server.adminKey, query));
    });

    it('should serve nothing protected to a key that worked a moment ago', async () => {
      expectUnavailable(await gql(server.url, reader.key, '{ scopes { name } }'));
    });

    it('should answer /healthz with 503', async () => {
      const response = await fetch(`${server.url}/healthz`);

      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', database: engine });
    });

    it('should answer /healthz with 503 to a credential it cannot check', async () => {
      const response = await fetch(`${server.url}/healthz`, {
        headers: { authorization: `Bearer ${server.adminKey}` },
      });

      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', database: engine });
    });

    it('should answer /readyz with 503 and /livez with 200', async () => {
      const ready = await fetch(`${server.url}/readyz`);
      const live = await fetch(`${server.url}/livez`);

      expect([ready.status, await ready.json()]).toEqual([503, { status: 'unavailable' }]);
      expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    });

    it('should answer /metrics with 503 to a credential it cannot check, and serve it privately', async () => {
      const refused = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${server.adminKey}` },
      });
      const scraped = await fetch(`${server.metricsUrl}/metrics`);

      expect(refused.status).toBe(503);
      expect(JSON.stringify(await refused.json())).not.toMatch(LEAKS);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/^keyholder_http_requests_total\{/m);
    });

    it('should still refuse unauthenticated requests with UNAUTHENTICATED', async () => {
      const response = await gql(server.url, null, '{ me { id } }');

      expectError(response, 'UNAUTHENTICATED', 'Authentication required');
    });
  });
});

// Issue 21.3: a database that holds connections open and never answers. PGlite runs in the
// process (nothing can hang between them), so this is PostgreSQL's alone.
describe.skipIf(!engines().includes('postgres'))('a hanging database on postgres', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('postgres', { databaseTimeoutMs: 500 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should answer SERVICE_UNAVAILABLE (503) instead of waiting, and serve again the moment it answers', async () => {
    // Not cached: its authentication has to read the locked tables. (A cached one is answered
    // while this instance's lease holds: no change can commit without it meanwhile.)
    const caller = await identityWithGrants(server, []);
    const { default: postgres } = await import('postgres');
    const [current] = await server.database.query<{ name: string }>(
      'select current_database() as name',
    );
    const url = new URL(process.env.DATABASE_URL as string);
    url.pathname = `/${current?.name}`;
    // A connection of its own, without the server's timeouts, holds the lock.
    const holder = postgres(url.href, { max: 1, onnotice: () => {} });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const locking = holder.begin(async (tx) => {
      // Every request reads the revision (and a cache miss, identities): locked, statements wait.
      await tx`lock table revision_head, identities in access exclusive mode`;
      await held;
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expectUnavailable(await gql(server.url, caller.key, '{ me { id } }'));
      expect(server.logs.some((l) => l.message.startsWith('Database unavailable'))).toBe(true);
    } finally {
      release();
      await locking;
      await holder.end();
    }
    const after = await gql(server.url, caller.key, '{ me { id } }');
    expect(after.body.errors).toBeUndefined();
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { type GqlError, gql } from '../fixtures/gql.js';
import { identityWithGrants } from '../fixtures/seed.js';
import { countRows, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, type Ending, executeWs, type WsClient } from '../fixtures/ws.js';
import {
  type AuditRecorder,
  markerIdentity,
  primeSubscriptions,
  subscribeToAudit,
  waitForSubject,
} from './audit-subscriber.js';

/** The GraphQL errors of an operation the server refused before running it (an `error` message). */
function refusal(ending: Ending): GqlError[] {
  expect(ending.kind, JSON.stringify(ending)).toBe('error');
  const errors = (ending as { error: unknown }).error;
  expect(Array.isArray(errors), JSON.stringify(errors)).toBe(true);
  return errors as GqlError[];
}

/** `{ me { grants { identity { grants { … id } } } } }`, `depth` fields deep. */
function nested(depth: number): string {
  const fields = ['me'];
  // A chain of single objects: depth alone, no list to multiply.
  while (fields.length < depth - 1) fields.push('owner');
  return `{ ${fields.map((f) => `${f} {`).join(' ')} id ${'}'.repeat(fields.length)} }`;
}

describe.each(engines())('GraphQL over WebSocket on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  const connect = async (key: string) => {
    const client = await connectAs(server.url, key);
    open.push(client);
    return client.client;
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('validation', () => {
    it('should refuse an unknown field with GRAPHQL_VALIDATION_FAILED and no suggestion', async () => {
      const client = await connect(server.adminKey);

      const { results, ending } = await executeWs(client, '{ me { idd nam } }');

      expect(results).toEqual([]);
      const errors = refusal(ending);
      expect(errors.map((e) => e.extensions?.code)).toEqual([
        'GRAPHQL_VALIDATION_FAILED',
        'GRAPHQL_VALIDATION_FAILED',
      ]);
      expect(errors.map((e) => e.message)).toEqual([
        'Cannot query field "idd" on type "Identity".',
        'Cannot query field "nam" on type "Identity".',
      ]);
    });

    it('should refuse an unknown subscription field with no suggestion', async () => {
      const client = await connect(server.adminKey);

      const { ending } = await executeWs(client, 'subscription { auditEvent { id } }');

      const errors = refusal(ending);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(errors[0]?.message).not.toMatch(/did you mean/i);
    });

    it('should answer a query 10 levels deep', async () => {
      const client = await connect(server.adminKey);

      const { results, ending } = await executeWs(client, nested(10));

      expect(ending).toEqual({ kind: 'complete' });
      expect(results[0]?.errors).toBeUndefined();
    });

    it('should refuse a query deeper than 10 levels, as HTTP does', async () => {
      const client = await connect(server.adminKey);
      const query = nested(11);

      const { results, ending } = await executeWs(client, query);
      const http = await gql(server.url, server.adminKey, query);

      expect(results).toEqual([]);
      const errors = refusal(ending);
      expect(errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(errors[0]?.message).toMatch(/depth/i);
      expect(http.body.errors?.[0]?.message).toMatch(/depth/i);
    });

    it('should refuse a document of more than 2000 tokens with GRAPHQL_PARSE_FAILED, as HTTP does', async () => {
      const client = await connect(server.adminKey);
      const query = `{ me { ${'id '.repeat(2100)}} }`;

      const { results, ending } = await executeWs(client, query);
      const http = await gql(server.url, server.adminKey, query);

      expect(results).toEqual([]);
      const errors = refusal(ending);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(errors[0]?.message).toContain('2000 tokens');
      expect(http.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    });
  });

  describe('operations per socket', () => {
    it('should refuse the 21st concurrent operation on one socket and keep the other 20', async () => {
      const client = await connect(server.adminKey);
      const running: AuditRecorder[] = [];
      for (let i = 0; i < 20; i++) running.push(subscribeToAudit(client));
      const extra = subscribeToAudit(client);

      const ending = await extra.ended;

      const errors = refusal(ending);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['BAD_REQUEST']);
      expect(errors[0]?.message).toContain('20 operations');
      await primeSubscriptions(running, () => markerIdentity(server));
      expect(running.every((r) => r.ending === undefined)).toBe(true);
    });

    it('should accept a new operation once one of 20 has been completed', async () => {
      const client = await connect(server.adminKey);
      const running: AuditRecorder[] = [];
      for (let i = 0; i < 20; i++) running.push(subscribeToAudit(client));
      await primeSubscriptions(running, () => markerIdentity(server));

      running[0]?.stop();
      const replacement = subscribeToAudit(client);
      await primeSubscriptions([replacement], () => markerIdentity(server));

      expect(replacement.ending).toBeUndefined();
    });
  });

  describe('queries and mutations', () => {
    it('should answer { me { id } } for a caller holding nothing', async () => {
      const nobody = await identityWithGrants(server);
      const client = await connect(nobody.key);

      const { results, ending } = await executeWs(client, '{ me { id } }');

      expect(ending).toEqual({ kind: 'complete' });
      expect(results).toEqual([{ data: { me: { id: nobody.id } } }]);
    });

    it('should answer identities with FORBIDDEN at ["identities"] without identities:read', async () => {
      const nobody = await identityWithGrants(server, ['audit:read']);
      const client = await connect(nobody.key);

      const { results, ending } = await executeWs(client, '{ identities { nodes { id } } }');

      expect(ending).toEqual({ kind: 'complete' });
      expect(results).toHaveLength(1);
      expect(results[0]?.data).toEqual({ identities: null });
      expect(results[0]?.errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
        ['FORBIDDEN', ['identities']],
      ]);
      expect(results[0]?.errors?.[0]?.message).toContain('identities:read');
    });

    it('should answer identities for a caller holding identities:read', async () => {
      const reader = await identityWithGrants(server, ['identities:read']);
      const client = await connect(reader.key);

      const { results } = await executeWs(client, '{ identities(first: 2) { nodes { id } } }');

      expect(results[0]?.errors).toBeUndefined();
      expect(results[0]?.data?.identities.nodes).toHaveLength(2);
    });

    it('should refuse a mutation with FORBIDDEN and no side effect without identities:write', async () => {
      const reader = await identityWithGrants(server, ['identities:read']);
      const client = await connect(reader.key);
      const before = await countRows(server, 'identities');

      const { results } = await executeWs(
        client,
        'mutation { createIdentity(input: { name: "over-ws", kind: SERVICE }) { id } }',
      );

      expect(results[0]?.errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
        ['FORBIDDEN', ['createIdentity']],
      ]);
      expect(await countRows(server, 'identities')).toBe(before);
    });

    it('should mask an internal error: no SQL, table or stack, and a reference the log carries', async () => {
      const client = await connect(server.adminKey);
      await server.database.query('alter table audit_events rename to audit_events_moved');
      let results: Awaited<ReturnType<typeof executeWs>>['results'];
      try {
        ({ results } = await executeWs(client, '{ auditEvents(first: 1) { nodes { id } } }'));
      } finally {
        await server.database.query('alter table audit_events_moved rename to audit_events');
      }

      const error = results[0]?.errors?.[0];
      expect(error?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(error?.message).toMatch(/^Internal server error \(reference \w+\)\.$/);
      expect(JSON.stringify(results)).not.toMatch(/audit_events|relation|select|stack|at \//i);
      const reference = error?.extensions?.reference as string;
      expect(server.logs.some((l) => l.message.includes(reference))).toBe(true);
    });

    it('should keep serving a socket after one of its operations failed', async () => {
      const client = await connect(server.adminKey);
      await executeWs(client, '{ me { idd } }');
      const recorder = subscribeToAudit(client);
      await primeSubscriptions([recorder], () => markerIdentity(server));

      const { results } = await executeWs(client, '{ me { id } }');

      expect(results).toEqual([{ data: { me: { id: server.adminId } } }]);
      const marker = await markerIdentity(server);
      await waitForSubject(recorder, marker);
    });
  });
});

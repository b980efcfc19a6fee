import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { gql } from '../fixtures/gql.js';
import { identityWithGrants, sleep } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

interface AccessRow extends Record<string, unknown> {
  action: string;
  actor_id: string;
  details: {
    operation: { name: string | null; type: string; documentHash: string; transport: string };
    allowed: { coordinate: string; grantIds: string[] }[];
    denied: { coordinate: string; code: string; reason: string; count: number }[];
    scopes: string[];
    durationMs: number;
    request: { requestId: string };
  };
}

async function accessEvents(server: TestServer, actorId: string): Promise<AccessRow[]> {
  return server.database.query<AccessRow>(
    `select action, actor_id::text, details from audit_events
     where action like 'access.%' and actor_id = $1 order by seq`,
    [actorId],
  );
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(25);
  }
}

describe.each(engines())('access events on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine, { accessLog: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should write one access.allowed event naming the operation, the coordinates and the grants that allowed them', async () => {
    const reader = await identityWithGrants(server, ['identities:read']);
    const query = 'query ListIdentities { identities(first: 5) { nodes { id name } } }';

    await gql(server.url, reader.key, query);
    const events = await eventually(
      () => accessEvents(server, reader.id),
      (rows) => rows.length > 0,
    );

    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.action).toBe('access.allowed');
    expect(event?.details.operation).toEqual({
      name: 'ListIdentities',
      type: 'query',
      documentHash: createHash('sha256').update(query).digest('hex'),
      transport: 'http',
    });
    expect(event?.details.allowed).toContainEqual({
      coordinate: 'Query.identities',
      grantIds: [reader.grants[0]?.id],
    });
    expect(event?.details.denied).toEqual([]);
    expect(event?.details.scopes).toEqual(['identities:read']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

interface FailedEvent {
  readonly action: string;
  readonly actor: { id: string } | null;
  readonly details: {
    reason: string;
    credential: string;
    unreported: number;
    request?: { clientIp: string | null };
  };
}

async function failedEvents(server: TestServer): Promise<FailedEvent[]> {
  const data = dataOf(
    await gql(
      server.url,
      server.adminKey,
      '{ auditEvents(first: 50, filter: { action: "auth.failed" }) { nodes { action actor { id } details } } }',
    ),
  );
  return (data.auditEvents as { nodes: FailedEvent[] }).nodes;
}

describe.each(engines())('failed authentications on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should write one auth.failed event per source and prefix a minute, with the reason and never the secret', async () => {
    const guess = 'kh_0123abcdGUESSEDguessedGUESSEDguessed';
    for (let i = 0; i < 3; i += 1) {
      const refused = await gql(server.url, guess, '{ me { id } }');
      expect(refused.status).toBe(401);
    }
    const holder = await identityWithGrants(server, []);
    const keys = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'query($id: ID!) { identity(id: $id) { apiKeys { id } } }',
        {
          id: holder.id,
        },
      ),
    );
    const keyId = (keys.identity as { apiKeys: { id: string }[] }).apiKeys[0]?.id;
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
        {
          id: keyId,
        },
      ),
    );
    expect((await gql(server.url, holder.key, '{ me { id } }')).status).toBe(401);

    const events = await expectEventually(
      () => failedEvents(server),
      (nodes) => nodes.length >= 2,
      'the auth.failed events',
    );
    expect(events).toHaveLength(2);
    const byReason = new Map(events.map((e) => [e.details.reason, e]));
    expect(byReason.get('UNKNOWN_KEY')).toMatchObject({
      action: 'auth.failed',
      actor: null,
      details: { credential: 'kh_0123abcd', request: { clientIp: '127.0.0.1' } },
    });
    expect(byReason.get('REVOKED_KEY')?.details.credential).toBe(holder.key.slice(0, 11));
    expect(JSON.stringify(events)).not.toContain(guess);
    expect(JSON.stringify(events)).not.toContain(holder.key);
    expect(server.logs.map((l) => l.message)).toContainEqual(
      expect.stringContaining('Refused credential kh_0123abcd from 127.0.0.1 (UNKNOWN_KEY)'),
    );
  });

  it('should not advance the revision, so refused keys never make cached authentications miss', async () => {
    const head = async () =>
      (await server.database.query<{ v: string }>('select value::text as v from revision_head'))[0]
        ?.v;
    const before = await head();
    expect((await gql(server.url, 'kh_77777777refused', '{ me { id } }')).status).toBe(401);
    await expectEventually(
      () => failedEvents(server),
      (nodes) => nodes.some((n) => n.details.credential === 'kh_77777777'),
      'the auth.failed event',
    );
    expect(await head()).toBe(before);
  });

  it('should count every refusal by reason in /metrics', async () => {
    await gql(server.url, 'kh_99999999nope', '{ me { id } }');
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const unknown = /keyholder_authentication_failures_total\{reason="UNKNOWN_KEY"\} (\d+)/.exec(
      text,
    );
    expect(Number(unknown?.[1])).toBeGreaterThanOrEqual(4);
    expect(text).toMatch(/keyholder_authentication_failures_total\{reason="REVOKED_KEY"\} 1/);
  });
});

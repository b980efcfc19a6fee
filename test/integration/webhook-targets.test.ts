import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { WebhookReceiver } from '../fixtures/webhook-receiver.js';

// Issue 20.7: webhooks reach no loopback, link-local (metadata), private or reserved address
// unless WEBHOOK_ALLOWED_NETWORKS lists it; checked when created and at every connect.
const CREATE = `mutation($url: String!) {
  createWebhook(input: { url: $url, actions: ["identity.created"] }) { webhook { id } }
}`;

describe.each(engines())('webhook targets on %s', (engine) => {
  let server: TestServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(engine, {
      webhooks: { allowedNetworks: [], pollIntervalMs: 20, retryBaseMs: 40, retryMaxMs: 100 },
    });
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.stop();
  });

  it.each([
    ['loopback', 'http://127.0.0.1:8080/hook'],
    ['IPv6 loopback', 'http://[::1]:8080/hook'],
    ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data/'],
    ['private', 'https://10.1.2.3/hook'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['localhost by name', 'http://localhost:8080/hook'],
  ])(
    'should refuse a %s receiver when the webhook is created, creating nothing',
    async (_, url) => {
      expectError(
        await gql(server.url, server.adminKey, CREATE, { url }),
        'BAD_USER_INPUT',
        'WEBHOOK_ALLOWED_NETWORKS',
      );
    },
  );

  it('should accept a public address, and refuse at connect time an address that became private (DNS rebinding)', async () => {
    const accepted = dataOf(
      await gql(server.url, server.adminKey, CREATE, { url: 'https://93.184.216.34/hook' }),
    ).createWebhook as { webhook: { id: string } };
    // Accepted; disabled at once so nothing is sent off this machine.
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { disableWebhook(id: $id) { id } }',
        {
          id: accepted.webhook.id,
        },
      ),
    );
    // A name that resolved publicly when checked and to loopback when sent: the row as it would
    // stand, pointing at a live receiver on loopback.
    const [row] = await server.database.query<{ id: string }>(
      `insert into webhooks (url, actions, action_prefixes, secret, created_by)
       values ($1, '{identity.created}', '{}', 'whsec_test', $2) returning id::text as id`,
      [receiver.url, server.adminId],
    );
    await createIdentity(server);

    const deliveries = await expectEventually(
      async () =>
        (await server.database.query<{ attempts: number; last_error: string | null }>(
          'select attempts, last_error from webhook_deliveries where webhook_id = $1',
          [row?.id],
        )) as { attempts: number; last_error: string | null }[],
      (rows) => rows.length === 1 && (rows[0]?.attempts ?? 0) >= 1 && rows[0]?.last_error !== null,
      'a failed attempt',
    );
    expect(deliveries[0]?.last_error).toMatch(/not allowed/i);
    expect(receiver.received).toEqual([]);
  });
});

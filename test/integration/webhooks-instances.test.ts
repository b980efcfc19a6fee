import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity, sleep } from '../fixtures/seed.js';
import type { TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';
import { WebhookReceiver } from '../fixtures/webhook-receiver.js';

const SKIP_REASON = '(PostgreSQL only: PGlite cannot be shared by two servers)';
const DISPATCH = { pollIntervalMs: 10, retryBaseMs: 40, retryMaxMs: 250, maxAttempts: 8 };
const EVENTS = 30;

describe.each(engines())('webhook delivery from two instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    if (!shared) return;
    receiver = await WebhookReceiver.start();
    instances = await startTwoInstances({ webhooks: DISPATCH });
    ({ a, b } = instances);
  });

  afterAll(async () => {
    await instances?.stop();
    await receiver?.close();
  });

  it.skipIf(!shared)(
    `should send each delivery once when both instances dispatch the same outbox ${SKIP_REASON}`,
    async () => {
      const created = dataOf(
        await gql(
          a.url,
          a.adminKey,
          `mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }`,
          { input: { url: receiver.url, actions: ['identity.created'] } },
        ),
      ).createWebhook as { secret: string; webhook: { id: string } };
      receiver.secret = created.secret;

      await Promise.all(
        Array.from({ length: EVENTS }, (_, i) => createIdentity(i % 2 === 0 ? a : b)),
      );

      await receiver.waitUntil(
        () => receiver.received.length >= EVENTS,
        20_000,
        `${EVENTS} deliveries`,
      );
      // Give a duplicate, if any instance were to send one, the time to arrive.
      await sleep(200);
      const ids = receiver.received.map((r) => r.headers['x-keyholder-delivery']);
      expect(ids).toHaveLength(EVENTS);
      expect(new Set(ids).size).toBe(EVENTS);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
      const [row] = await a.database.query<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries where status = 'DELIVERED' and attempts = 1",
      );
      expect(Number(row?.n)).toBe(EVENTS);
    },
  );
});

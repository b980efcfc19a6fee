import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  grant,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { disableAllWebhooks, WebhookReceiver } from '../fixtures/webhook-receiver.js';

// A webhook delivers only what its owner may read now (issue 21.1): escalation specs first.
const DISPATCH = { pollIntervalMs: 20, timeoutMs: 2000, retryBaseMs: 40, retryMaxMs: 250 };
const WAIT_MS = 15_000;
const RIGHTS = ['webhooks:write', 'webhooks:read', 'audit:read'];

const CREATE = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id ownerId paused } }
}`;
const WEBHOOK = `query($id: ID!) { webhook(id: $id) { id paused pausedAt pauseReason ownerId } }`;
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Left the team.") { id } }';
const EVENTS = `query($subject: String!) {
  auditEvents(first: 10, filter: { subjectId: $subject, action: "webhook." }) {
    nodes { action actor { id } details }
  }
}`;

interface WebhookState {
  id: string;
  paused: boolean;
  pausedAt: string | null;
  pauseReason: string | null;
  ownerId: string;
}

describe.each(engines())("webhooks and their owner's rights on %s", (engine) => {
  let server: TestServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(engine, { webhooks: DISPATCH });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    await receiver.close();
    await disableAllWebhooks(server);
  });

  const createWebhook = async (key: string, more: Record<string, unknown> = {}) =>
    (
      dataOf(
        await gql(server.url, key, CREATE, {
          input: { url: receiver.url, actions: ['identity.created'], ...more },
        }),
      ).createWebhook as { webhook: { id: string; ownerId: string; paused: boolean } }
    ).webhook;

  const state = async (id: string) =>
    dataOf(await gql(server.url, server.adminKey, WEBHOOK, { id })).webhook as WebhookState;

  /** Makes an identity (an `identity.created` event) and returns its name. */
  const happen = async () => (await createIdentity(server)).name;

  const delivered = (name: string) =>
    receiver
      .deliveredWith('identity.created')
      .some((r) => r.body.event.details?.after?.name === name);

  const creator = () => identityWithGrants(server, RIGHTS, { kind: 'USER' });
  const grantOf = (who: SeededPrincipal, scope: string) =>
    who.grants.find((g) => g.scope === scope)?.id as string;

  it('should pause the moment the creator loses a right, send nothing meanwhile, audit it, and resume with the backlog once regained', async () => {
    const person = await creator();
    const hook = await createWebhook(person.key);
    expect(hook).toMatchObject({ ownerId: person.id, paused: false });
    const before = await happen();
    await receiver.waitUntil(() => delivered(before), WAIT_MS, 'the first delivery');

    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: grantOf(person, 'audit:read') }));
    const during = await happen();

    await expectEventually(
      () => state(hook.id),
      (w) => w.paused,
      'the webhook paused',
    );
    const paused = await state(hook.id);
    expect(paused.pauseReason).toContain('"audit:read"');
    expect(delivered(during)).toBe(false);
    const events = dataOf(await gql(server.url, server.adminKey, EVENTS, { subject: hook.id }))
      .auditEvents as {
      nodes: { action: string; actor: null; details: Record<string, unknown> }[];
    };
    expect(events.nodes).toContainEqual(
      expect.objectContaining({
        action: 'webhook.paused',
        actor: null,
        details: expect.objectContaining({ ownerId: person.id, sensitive: true }),
      }),
    );

    await grant(server, person.id, { scope: 'audit:read' });

    await receiver.waitUntil(() => delivered(during), WAIT_MS, 'the backlog after resuming');
    expect((await state(hook.id)).paused).toBe(false);
  });

  it('should pause when the creator is disabled, and when all their grants are revoked', async () => {
    const disabled = await creator();
    const first = await createWebhook(disabled.key);
    const revoked = await creator();
    const second = await createWebhook(revoked.key);
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
        {
          id: disabled.id,
        },
      ),
    );
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { revokeAllGrants(identityId: $id, reason: "Offboarded.") { identity { id } } }',
        { id: revoked.id },
      ),
    );
    const after = await happen();

    await expectEventually(
      async () => [(await state(first.id)).paused, (await state(second.id)).paused],
      ([a, b]) => a === true && b === true,
      'both webhooks paused',
    );
    expect((await state(first.id)).pauseReason).toContain('disabled');
    expect(delivered(after)).toBe(false);
  });

  it("should keep an organisation's webhook, owned by a service, delivering after its creator leaves, and pause it when the service loses the right", async () => {
    const person = await creator();
    const service = await identityWithGrants(server, RIGHTS, {
      kind: 'SERVICE',
      ownerId: person.id,
    });
    const hook = await createWebhook(person.key, { ownerId: service.id });
    expect(hook.ownerId).toBe(service.id);
    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: grantOf(person, 'audit:read') }));

    const afterLeaving = await happen();
    await receiver.waitUntil(
      () => delivered(afterLeaving),
      WAIT_MS,
      'delivery after the creator left',
    );

    dataOf(
      await gql(server.url, server.adminKey, REVOKE, { id: grantOf(service, 'webhooks:read') }),
    );
    const afterService = await happen();
    await expectEventually(
      () => state(hook.id),
      (w) => w.paused,
      'the webhook paused',
    );
    expect(delivered(afterService)).toBe(false);
  });

  it('should refuse an owner that is not a service you own, or that lacks the rights, creating nothing', async () => {
    const person = await creator();
    const stranger = await identityWithGrants(server, RIGHTS, { kind: 'SERVICE' });
    const agent = await identityWithGrants(server, RIGHTS, { kind: 'AGENT', ownerId: person.id });
    const bare = await identityWithGrants(server, ['webhooks:read'], {
      kind: 'SERVICE',
      ownerId: person.id,
    });
    const input = (ownerId: string) => ({
      input: { url: receiver.url, actions: ['identity.created'], ownerId },
    });

    expectError(
      await gql(server.url, person.key, CREATE, input(stranger.id)),
      'FORBIDDEN',
      'not one you own',
    );
    expectError(await gql(server.url, person.key, CREATE, input(agent.id)), 'FORBIDDEN', 'SERVICE');
    expectError(
      await gql(server.url, person.key, CREATE, input(bare.id)),
      'BAD_USER_INPUT',
      'would be paused at once',
    );
    expectError(
      await gql(server.url, person.key, CREATE, input('00000000-0000-4000-8000-000000000000')),
      'NOT_FOUND',
      'does not exist',
    );
    const hooks = dataOf(await gql(server.url, server.adminKey, '{ webhooks { id active } }'))
      .webhooks as { active: boolean }[];
    expect(hooks.filter((h) => h.active)).toEqual([]);
  });

  it('should not count a right held only under a condition (a delivery has no request to meet it)', async () => {
    const person = await identityWithGrants(
      server,
      ['webhooks:write', 'webhooks:read', 'audit:read'],
      { kind: 'USER' },
    );
    const hook = await createWebhook(person.key);
    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: grantOf(person, 'audit:read') }));
    await grant(server, person.id, {
      scope: 'audit:read',
      condition: 'request.time.getHours() >= 0',
    });
    await happen();

    await expectEventually(
      () => state(hook.id),
      (w) => w.paused,
      'the webhook paused',
    );
    expect((await state(hook.id)).pauseReason).toContain('without a condition');
  });
});

import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/modules/identities/bootstrap.js';
import { grantUpgradedBuiltins } from '../../src/modules/identities/grant-upgraded-builtins.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { disableAllWebhooks, WebhookReceiver } from '../fixtures/webhook-receiver.js';

const MAX_ATTEMPTS = 8;
// Short delays so retries happen within a test; nothing below asserts a duration.
const DISPATCH = {
  pollIntervalMs: 20,
  timeoutMs: 2000,
  retryBaseMs: 40,
  retryMaxMs: 250,
  maxAttempts: MAX_ATTEMPTS,
};
const WAIT_MS = 15_000;

const CREATE = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id url actions scopes description active createdBy { id } } }
}`;
const DISABLE = 'mutation($id: ID!) { disableWebhook(id: $id) { id active disabledAt } }';
const DELIVERIES = `query($id: ID!, $status: WebhookDeliveryStatus) {
  webhook(id: $id) {
    id
    deliveries(first: 100, status: $status) {
      nodes { id eventId action status attempts lastAttemptAt nextAttemptAt deliveredAt lastStatusCode lastError createdAt webhook { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const GRANT = `mutation($input: GrantInput!) { grant(input: $input) { id } }`;
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }';

interface Delivery {
  id: string;
  eventId: string;
  action: string;
  status: 'PENDING' | 'DELIVERED' | 'FAILED';
  attempts: number;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

describe.each(engines())('webhooks on %s', (engine) => {
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

  async function createWebhook(
    input: { url?: string; actions: string[]; scopes?: string[]; description?: string },
    key = server.adminKey,
  ): Promise<{ id: string; secret: string }> {
    const data = dataOf(
      await gql(server.url, key, CREATE, { input: { url: receiver.url, ...input } }),
    );
    const created = data.createWebhook as { secret: string; webhook: { id: string } };
    receiver.secret = created.secret;
    return { id: created.webhook.id, secret: created.secret };
  }

  async function deliveries(webhookId: string, status?: string): Promise<Delivery[]> {
    const data = dataOf(
      await gql(server.url, server.adminKey, DELIVERIES, { id: webhookId, status: status ?? null }),
    );
    return data.webhook.deliveries.nodes as Delivery[];
  }

  async function deliveryRows(): Promise<number> {
    const [row] = await server.database.query<{ n: number }>(
      'select count(*)::int as n from webhook_deliveries',
    );
    return Number(row?.n);
  }

  async function newGrantee(): Promise<string> {
    return (await identityWithGrants(server)).id;
  }

  describe('permissions', () => {
    it('should refuse createWebhook with FORBIDDEN to a caller without webhooks:write', async () => {
      const nobody = await identityWithGrants(server, ['webhooks:read', 'audit:read']);

      const response = await gql(server.url, nobody.key, CREATE, {
        input: { url: receiver.url, actions: ['grant.'] },
      });

      expectError(response, 'FORBIDDEN', 'webhooks:write');
    });

    it('should refuse createWebhook to a caller without audit:read, since deliveries carry audit events', async () => {
      const writer = await identityWithGrants(server, ['webhooks:write', 'webhooks:read']);

      const response = await gql(server.url, writer.key, CREATE, {
        input: { url: receiver.url, actions: ['grant.'] },
      });

      expectError(response, 'FORBIDDEN', 'audit:read');
      const [row] = await server.database.query<{ n: number }>(
        'select count(*)::int as n from webhooks where created_by = $1',
        [writer.id],
      );
      expect(Number(row?.n)).toBe(0);
    });

    it('should refuse webhooks, webhook and disableWebhook with FORBIDDEN without the scopes', async () => {
      const nobody = await identityWithGrants(server);
      const hook = await createWebhook({ actions: ['grant.'] });

      expectError(
        await gql(server.url, nobody.key, '{ webhooks { id } }'),
        'FORBIDDEN',
        'webhooks:read',
      );
      expectError(
        await gql(server.url, nobody.key, 'query($id: ID!) { webhook(id: $id) { id } }', {
          id: hook.id,
        }),
        'FORBIDDEN',
        'webhooks:read',
      );
      const reader = await identityWithGrants(server, ['webhooks:read']);
      expectError(
        await gql(server.url, reader.key, DISABLE, { id: hook.id }),
        'FORBIDDEN',
        'webhooks:write',
      );
    });

    it('should let a delegate holding the scopes create a webhook, and record webhook.created without the secret', async () => {
      const delegate = await identityWithGrants(server, [
        'webhooks:write',
        'webhooks:read',
        'audit:read',
      ]);

      const hook = await createWebhook(
        { actions: ['grant.created'], description: 'SIEM' },
        delegate.key,
      );

      expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const data = dataOf(
        await gql(
          server.url,
          server.adminKey,
          `query($id: String!) {
          auditEvents(first: 1, filter: { action: "webhook.created", subjectId: $id }) { nodes { actorId details } }
        }`,
          { id: hook.id },
        ),
      );
      const [event] = data.auditEvents.nodes;
      expect(event.actorId).toBe(delegate.id);
      expect(event.details.after).toMatchObject({
        url: receiver.url,
        actions: ['grant.created'],
        description: 'SIEM',
      });
      expect(JSON.stringify(event.details)).not.toContain(hook.secret);
    });
  });

  describe('validation', () => {
    it.each([
      ['not a URL', 'hooks.example.com/x', 'is not an absolute URL'],
      ['a relative URL', '/hooks', 'is not an absolute URL'],
      ['another scheme', 'ftp://example.com/hook', 'must use http or https'],
      ['a javascript: URL', 'javascript:alert(1)', 'must use http or https'],
      [
        'credentials',
        'https://user:pass@example.com/hook',
        'must not contain a user name or password',
      ],
      [
        'a user name alone',
        'https://user@example.com/hook',
        'must not contain a user name or password',
      ],
      ['an over-long URL', `https://example.com/${'a'.repeat(2048)}`, 'at most 2048 characters'],
      ['an empty URL', '  ', 'url must not be empty'],
    ])('should refuse %s with BAD_USER_INPUT', async (_, url, message) => {
      const response = await gql(server.url, server.adminKey, CREATE, {
        input: { url, actions: ['grant.'] },
      });

      expectError(response, 'BAD_USER_INPUT', message);
    });

    it.each([
      ['no actions', [], 'actions must name at least one action'],
      ['an unknown action', ['grant.creatd'], 'Action "grant.creatd" matches no audited action'],
      ['a prefix matching nothing', ['payroll.'], 'Action "payroll." matches no audited action'],
      ['a blank action', [' '], 'actions must not be empty'],
    ])('should refuse %s with BAD_USER_INPUT', async (_, actions, message) => {
      const response = await gql(server.url, server.adminKey, CREATE, {
        input: { url: receiver.url, actions },
      });

      expectError(response, 'BAD_USER_INPUT', message);
    });

    it('should refuse a malformed scope with BAD_USER_INPUT and an undefined one with NOT_FOUND', async () => {
      expectError(
        await gql(server.url, server.adminKey, CREATE, {
          input: { url: receiver.url, actions: ['grant.'], scopes: ['Payroll'] },
        }),
        'BAD_USER_INPUT',
        '"Payroll" is not a valid scope name',
      );
      expectError(
        await gql(server.url, server.adminKey, CREATE, {
          input: { url: receiver.url, actions: ['grant.'], scopes: [] },
        }),
        'BAD_USER_INPUT',
        'scopes must name at least one scope',
      );
      expectError(
        await gql(server.url, server.adminKey, CREATE, {
          input: { url: receiver.url, actions: ['grant.'], scopes: ['nothing.here:read'] },
        }),
        'NOT_FOUND',
        'Scope "nothing.here:read" is not defined.',
      );
    });

    it('should answer NOT_FOUND for an unknown webhook and BAD_USER_INPUT for a malformed id', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';

      expectError(
        await gql(server.url, server.adminKey, DISABLE, { id: unknown }),
        'NOT_FOUND',
        `Webhook ${unknown} does not exist.`,
      );
      expectError(
        await gql(server.url, server.adminKey, DISABLE, { id: 'nope' }),
        'BAD_USER_INPUT',
        '"nope" is not a valid webhook id.',
      );
      expect(
        dataOf(
          await gql(server.url, server.adminKey, 'query($id: ID!) { webhook(id: $id) { id } }', {
            id: unknown,
          }),
        ).webhook,
      ).toBeNull();
    });

    it('should have created nothing for any refused input', async () => {
      const [row] = await server.database.query<{ n: number }>(
        "select count(*)::int as n from audit_events where action = 'webhook.created' and details -> 'after' ->> 'url' not like 'http://127.0.0.1:%'",
      );
      expect(Number(row?.n)).toBe(0);
    });
  });

  describe('delivery', () => {
    it('should POST a grant.created event to the receiver, signed, with the documented headers and payload', async () => {
      const hook = await createWebhook({ actions: ['grant.created'] });
      const scope = await defineScope(server);
      const granteeId = await newGrantee();

      const granted = dataOf(
        await gql(server.url, server.adminKey, GRANT, {
          input: { identityId: granteeId, scope, reason: 'INC-7: alerting test' },
        }),
      ).grant as { id: string };

      await receiver.waitUntil(
        () =>
          receiver
            .deliveredWith('grant.created')
            .some((r) => r.body.event.subjectId === granted.id),
        WAIT_MS,
        'the grant.created delivery',
      );
      const request = receiver
        .deliveredWith('grant.created')
        .find((r) => r.body.event.subjectId === granted.id);
      expect(request?.verified).toBe(true);
      expect(request?.headers['content-type']).toBe('application/json');
      expect(request?.headers['x-keyholder-delivery']).toBe(request?.body.id);
      expect(request?.headers['x-keyholder-timestamp']).toMatch(/^\d{10}$/);
      expect(request?.headers['x-keyholder-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      // The same delivery verifies with the Standard Webhooks library, given the secret as shown.
      expect(request?.headers['webhook-id']).toBe(request?.body.id);
      expect(request?.headers['webhook-timestamp']).toBe(request?.headers['x-keyholder-timestamp']);
      expect(() =>
        new Webhook(hook.secret).verify(
          request?.rawBody ?? '',
          request?.headers as Record<string, string>,
        ),
      ).not.toThrow();
      expect(() =>
        new Webhook(`whsec_${Buffer.from('not the secret').toString('base64')}`).verify(
          request?.rawBody ?? '',
          request?.headers as Record<string, string>,
        ),
      ).toThrow();
      expect(request?.body).toMatchObject({
        webhookId: hook.id,
        event: {
          action: 'grant.created',
          actorId: server.adminId,
          subjectId: granted.id,
          details: {
            scopes: [scope],
            reason: 'INC-7: alerting test',
            after: { identityId: granteeId, scope },
          },
        },
      });
      expect(request?.body.event.hash).toMatch(/^[0-9a-f]{64}$/);

      // The payload is the audit event itself: same id, seq, hash as the log says.
      const logged = dataOf(
        await gql(
          server.url,
          server.adminKey,
          `query($id: String!) {
          auditEvents(first: 1, filter: { subjectId: $id, action: "grant.created" }) { nodes { id seq at hash } }
        }`,
          { id: granted.id },
        ),
      ).auditEvents.nodes[0];
      expect(request?.body.event).toMatchObject({
        id: logged.id,
        seq: logged.seq,
        hash: logged.hash,
      });
      expect(new Date(request?.body.event.at).toISOString()).toBe(logged.at);

      const [delivery] = await expectEventually(
        () => deliveries(hook.id),
        (list) => list[0]?.status === 'DELIVERED',
        'DELIVERED status',
      );
      expect(delivery).toMatchObject({
        id: request?.body.id,
        eventId: logged.id,
        action: 'grant.created',
        status: 'DELIVERED',
        attempts: 1,
        lastStatusCode: 200,
        lastError: null,
        nextAttemptAt: null,
      });
      expect(delivery?.deliveredAt).not.toBeNull();
    });

    it('should deliver only events matching the action prefix and the scopes filter', async () => {
      const watched = await defineScope(server);
      const other = await defineScope(server);
      const hook = await createWebhook({ actions: ['grant.'], scopes: [watched] });
      const granteeId = await newGrantee();

      const ignored = dataOf(
        await gql(server.url, server.adminKey, GRANT, {
          input: { identityId: granteeId, scope: other, reason: 'Other scope.' },
        }),
      ).grant.id as string;
      const granted = dataOf(
        await gql(server.url, server.adminKey, GRANT, {
          input: { identityId: granteeId, scope: watched, reason: 'Watched.' },
        }),
      ).grant.id as string;
      dataOf(await gql(server.url, server.adminKey, REVOKE, { id: ignored }));
      dataOf(await gql(server.url, server.adminKey, REVOKE, { id: granted }));

      await receiver.waitUntil(
        () => receiver.deliveredWith('grant.revoked').length >= 1,
        WAIT_MS,
        'the grant.revoked delivery',
      );
      const list = await expectEventually(
        () => deliveries(hook.id),
        (l) => l.length === 2 && l.every((d) => d.status === 'DELIVERED'),
        'two deliveries',
      );
      expect(list.map((d) => d.action).sort()).toEqual(['grant.created', 'grant.revoked']);
      const subjects = receiver.received.map((r) => r.body.event.subjectId);
      expect(subjects).not.toContain(ignored);
      expect(receiver.received.every((r) => r.body.event.details.scopes.includes(watched))).toBe(
        true,
      );
      // Identity creation and the scope definitions were not grant.* events: never queued.
      expect(receiver.received.some((r) => !r.body.event.action.startsWith('grant.'))).toBe(false);
    });

    it('should queue nothing for a change that fails inside its transaction', async () => {
      const scope = await defineScope(server);
      const granteeId = await newGrantee();
      await createWebhook({ actions: ['grant.', 'webhook.'] });
      dataOf(
        await gql(server.url, server.adminKey, GRANT, {
          input: { identityId: granteeId, scope, reason: 'First.' },
        }),
      );
      await expectEventually(deliveryRows, (n) => n > 0, 'the first delivery row');
      const before = await deliveryRows();

      const duplicate = await gql(server.url, server.adminKey, GRANT, {
        input: { identityId: granteeId, scope, reason: 'Again.' },
      });
      const [adminGrant] = (
        dataOf(await gql(server.url, server.adminKey, '{ me { grants { id scope { name } } } }')).me
          .grants as {
          id: string;
          scope: { name: string };
        }[]
      ).filter((g) => g.scope.name === 'grants:write');
      const lockout = await gql(server.url, server.adminKey, REVOKE, { id: adminGrant?.id });

      expectError(duplicate, 'CONFLICT', 'already holds an active grant');
      expectError(lockout, 'CONFLICT', 'would leave no active identity holding "grants:write"');
      expect(await deliveryRows()).toBe(before);
    });

    it('should retry while the receiver is down and deliver once it is back', async () => {
      const port = Number(new URL(receiver.url).port);
      const hook = await createWebhook({ actions: ['identity.created'] });
      await receiver.close();

      const identity = await newGrantee();

      const failing = await expectEventually(
        () => deliveries(hook.id),
        (l) => (l[0]?.attempts ?? 0) >= 2,
        'two failed attempts',
      );
      expect(failing[0]).toMatchObject({ status: 'PENDING', lastStatusCode: null });
      expect(failing[0]?.lastError).toMatch(/ECONNREFUSED|request failed/);
      expect(failing[0]?.nextAttemptAt).not.toBeNull();

      await receiver.listen(port);

      const [delivered] = await expectEventually(
        () => deliveries(hook.id),
        (l) => l[0]?.status === 'DELIVERED',
        'the delivery after the receiver came back',
      );
      expect(delivered?.attempts).toBeGreaterThan(1);
      expect(delivered?.lastStatusCode).toBe(200);
      expect(
        receiver.deliveredWith('identity.created').map((r) => r.body.event.subjectId),
      ).toContain(identity);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
    });

    it('should let changes commit while a receiver hangs, and deliver once it answers', async () => {
      receiver.hold = true;
      const hook = await createWebhook({ actions: ['identity.created'] });
      const first = await newGrantee();
      await receiver.waitUntil(() => receiver.held.length === 1, WAIT_MS, 'a hung request');

      // The dispatcher is waiting on the receiver; changes are not.
      const second = await newGrantee();
      const scope = await defineScope(server);
      dataOf(
        await gql(server.url, server.adminKey, GRANT, {
          input: { identityId: second, scope, reason: 'While the receiver hangs.' },
        }),
      );
      receiver.release();

      const list = await expectEventually(
        () => deliveries(hook.id),
        (l) => l.length === 2 && l.every((d) => d.status === 'DELIVERED'),
        'both deliveries',
      );
      expect(list).toHaveLength(2);
      const subjects = receiver
        .deliveredWith('identity.created')
        .map((r) => r.body.event.subjectId);
      expect(subjects).toEqual(expect.arrayContaining([first, second]));
    });

    it('should mark a delivery FAILED after the last attempt when the receiver always answers 500', async () => {
      receiver.status = 500;
      const hook = await createWebhook({ actions: ['identity.created'] });

      await newGrantee();

      const [failed] = await expectEventually(
        () => deliveries(hook.id),
        (l) => l[0]?.status === 'FAILED',
        'FAILED status',
      );
      expect(failed).toMatchObject({
        attempts: MAX_ATTEMPTS,
        lastStatusCode: 500,
        lastError: 'The receiver answered HTTP 500.',
        nextAttemptAt: null,
        deliveredAt: null,
      });
      expect(receiver.received).toHaveLength(MAX_ATTEMPTS);
      // Every attempt is the same delivery: receivers dedupe on x-keyholder-delivery.
      expect(new Set(receiver.received.map((r) => r.headers['x-keyholder-delivery'])).size).toBe(1);
      expect((await deliveries(hook.id, 'FAILED')).map((d) => d.id)).toEqual([failed?.id]);
      expect(await deliveries(hook.id, 'DELIVERED')).toEqual([]);
    });

    it('should send nothing new to a disabled webhook, abandon what was pending, and audit the disabling', async () => {
      receiver.status = 503;
      const hook = await createWebhook({ actions: ['identity.created'] });
      const watcher = new WebhookReceiver();
      await watcher.listen();
      try {
        const watch = dataOf(
          await gql(server.url, server.adminKey, CREATE, {
            input: { url: watcher.url, actions: ['webhook.disabled'] },
          }),
        ).createWebhook as { secret: string; webhook: { id: string } };
        watcher.secret = watch.secret;
        await newGrantee();
        await expectEventually(
          () => deliveries(hook.id),
          (l) => (l[0]?.attempts ?? 0) >= 1,
          'a first attempt',
        );

        const disabled = dataOf(
          await gql(server.url, server.adminKey, DISABLE, { id: hook.id }),
        ).disableWebhook;
        await newGrantee();

        expect(disabled).toMatchObject({ id: hook.id, active: false });
        const list = await deliveries(hook.id);
        expect(list).toHaveLength(1);
        expect(list[0]).toMatchObject({
          status: 'FAILED',
          lastError: 'The webhook was disabled before this event was delivered.',
          nextAttemptAt: null,
        });
        await watcher.waitUntil(
          () => watcher.deliveredWith('webhook.disabled').length === 1,
          WAIT_MS,
          'the webhook.disabled alert',
        );
        const [alert] = watcher.deliveredWith('webhook.disabled');
        expect(alert?.verified).toBe(true);
        expect(alert?.body.event).toMatchObject({
          subjectId: hook.id,
          actorId: server.adminId,
          details: { before: { url: receiver.url }, abandonedDeliveries: 1 },
        });
        expectError(
          await gql(server.url, server.adminKey, DISABLE, { id: hook.id }),
          'CONFLICT',
          `Webhook ${hook.id} was already disabled`,
        );
      } finally {
        await watcher.close();
      }
    });

    it('should list webhooks with their filters and page through deliveries', async () => {
      const hook = await createWebhook({
        actions: ['identity.', 'grant.created', 'apikey*'],
        description: 'All identities',
      });
      for (let i = 0; i < 3; i += 1) await newGrantee();
      await expectEventually(
        () => deliveries(hook.id, 'DELIVERED'),
        (l) => l.filter((d) => d.action === 'identity.created').length === 3,
        'three identity deliveries',
      );

      const listed = dataOf(
        await gql(
          server.url,
          server.adminKey,
          '{ webhooks { id actions scopes description active createdBy { name } } }',
        ),
      ).webhooks as { id: string }[];
      expect(listed.find((w) => w.id === hook.id)).toEqual({
        id: hook.id,
        actions: ['grant.created', 'identity.', 'apikey*'],
        scopes: null,
        description: 'All identities',
        active: true,
        createdBy: { name: 'bootstrap-admin' },
      });
      const page = (after: string | null) =>
        gql(
          server.url,
          server.adminKey,
          `query($id: ID!, $after: String) {
          webhook(id: $id) { deliveries(first: 2, after: $after) { nodes { eventId } pageInfo { hasNextPage endCursor } } }
        }`,
          { id: hook.id, after },
        );
      const first = dataOf(await page(null)).webhook.deliveries;
      const second = dataOf(await page(first.pageInfo.endCursor)).webhook.deliveries;
      expect(first.nodes).toHaveLength(2);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const ids = [...first.nodes, ...second.nodes].map((n: { eventId: string }) =>
        Number(n.eventId),
      );
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      expect(new Set(ids).size).toBe(ids.length);
      expectError(
        await page('bogus'),
        'BAD_USER_INPUT',
        '"after" is not a cursor this API returned.',
      );
    });
  });

  describe('several webhooks at once', () => {
    it("should list each webhook's own deliveries when several are listed together", async () => {
      const identities = await createWebhook({ actions: ['identity.created'] });
      const keys = await createWebhook({ actions: ['apikey.'] });
      await newGrantee();
      await newGrantee();
      await expectEventually(
        async () => [...(await deliveries(identities.id)), ...(await deliveries(keys.id))],
        (l) => l.length === 4 && l.every((d) => d.status === 'DELIVERED'),
        'four deliveries',
      );

      const listed = dataOf(
        await gql(
          server.url,
          server.adminKey,
          '{ webhooks { id active deliveries(first: 1) { nodes { action webhook { id } } pageInfo { hasNextPage } } } }',
        ),
      ).webhooks as {
        id: string;
        active: boolean;
        deliveries: {
          nodes: { action: string; webhook: { id: string } }[];
          pageInfo: { hasNextPage: boolean };
        };
      }[];

      const byId = new Map(listed.map((w) => [w.id, w.deliveries]));
      expect(byId.get(identities.id)).toEqual({
        nodes: [{ action: 'identity.created', webhook: { id: identities.id } }],
        pageInfo: { hasNextPage: true },
      });
      expect(byId.get(keys.id)).toEqual({
        nodes: [{ action: 'apikey.created', webhook: { id: keys.id } }],
        pageInfo: { hasNextPage: true },
      });
      for (const hook of listed.filter((w) => ![identities.id, keys.id].includes(w.id))) {
        for (const node of hook.deliveries.nodes) expect(node.webhook.id).toBe(hook.id);
      }
    });
  });

  describe('built-in scopes added by the upgrade', () => {
    it('should give the bootstrap admin webhooks:read and webhooks:write grantable on a fresh database', async () => {
      const grants = dataOf(
        await gql(
          server.url,
          server.adminKey,
          '{ me { grants { scope { name } grantable expiresAt } } }',
        ),
      ).me.grants as { scope: { name: string }; grantable: boolean; expiresAt: string | null }[];

      for (const name of ['webhooks:read', 'webhooks:write']) {
        expect(grants.find((g) => g.scope.name === name)).toEqual({
          scope: { name },
          grantable: true,
          expiresAt: null,
        });
      }
    });

    it('should grant a built-in scope nobody holds to every root admin, with its audit event, once', async () => {
      const upgraded = await startTestServer(engine);
      try {
        // A database bootstrapped before webhooks existed: nobody holds the new scopes.
        const deputy = await identityWithGrants(
          upgraded,
          [
            'audit:read',
            'grants:read',
            'grants:write',
            'identities:read',
            'identities:write',
            'scopes:read',
            'scopes:write',
          ].map((scope) => ({ scope, grantable: true })),
        );
        const partial = await identityWithGrants(upgraded, [
          { scope: 'audit:read', grantable: true },
        ]);
        await upgraded.database.query("delete from grants where scope like 'webhooks:%'");

        const result = await bootstrap(upgraded.database, undefined);

        expect(result.admin).toBeUndefined();
        const made = result.upgradeGrants.map((g) => `${g.identityId} ${g.scope}`).sort();
        expect(made).toEqual(
          [
            `${upgraded.adminId} webhooks:read`,
            `${upgraded.adminId} webhooks:write`,
            `${deputy.id} webhooks:read`,
            `${deputy.id} webhooks:write`,
          ].sort(),
        );
        const rows = await upgraded.database.query<{
          identity_id: string;
          grantable: boolean;
          expires_at: unknown;
          granted_by: unknown;
          reason: string;
        }>(
          "select identity_id::text, grantable, expires_at, granted_by, reason from grants where scope = 'webhooks:write' order by identity_id",
        );
        expect(
          rows.every((r) => r.grantable && r.expires_at === null && r.granted_by === null),
        ).toBe(true);
        expect(rows.map((r) => r.identity_id)).not.toContain(partial.id);
        expect(rows[0]?.reason).toBe('Built-in scope webhooks:write added by an upgrade.');
        const events = await upgraded.database.query<{ actor_id: unknown; subject_id: string }>(
          "select actor_id, subject_id from audit_events where action = 'grant.created' and details -> 'after' ->> 'scope' like 'webhooks:%' and details ->> 'reason' like '%added by an upgrade.'",
        );
        expect(events).toHaveLength(4);
        expect(events.every((e) => e.actor_id === null)).toBe(true);
        expect(events.map((e) => e.subject_id).sort()).toEqual(
          result.upgradeGrants.map((g) => g.grantId).sort(),
        );

        // The root admins can use it at once, and a second start changes nothing.
        const hook = await gql(upgraded.url, deputy.key, '{ webhooks { id } }');
        expect(dataOf(hook).webhooks).toEqual([]);
        expect(await upgraded.database.db.transaction((tx) => grantUpgradedBuiltins(tx))).toEqual(
          [],
        );
        expect((await bootstrap(upgraded.database, undefined)).upgradeGrants).toEqual([]);
        const verified = dataOf(
          await gql(upgraded.url, upgraded.adminKey, '{ verifyAuditLog { ok } }'),
        );
        expect(verified.verifyAuditLog.ok).toBe(true);
      } finally {
        await upgraded.stop();
      }
    });
  });
});

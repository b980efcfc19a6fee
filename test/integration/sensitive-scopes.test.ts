import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccessRow, eventsOfRequest, requestIdOf } from '../fixtures/access-log.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { countRows, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { WebhookReceiver } from '../fixtures/webhook-receiver.js';

const CHECK = `query($id: ID!, $scope: String!) {
  check(identityId: $id, scope: $scope) { allowed }
}`;
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name }
}`;
const CREATE_WEBHOOK = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id sensitiveOnly } }
}`;

// The test servers run with ACCESS_LOG=off (accessLog: false), as the fixture does by default.
describe.each(engines())('sensitive scopes with ACCESS_LOG=off on %s', (engine) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let sensitive: string;
  let ordinary: string;
  /** Holds grants:read: may check anyone. */
  let checker: SeededPrincipal;

  const check = (identityId: string, scope: string) =>
    gql(server.url, checker.key, CHECK, { id: identityId, scope });

  const accessEventsOf = (requestId: string) =>
    server.database.query<AccessRow>(
      `select seq::text, action, actor_id::text, subject_id, details from audit_events
        where action like 'access.%' and details->'request'->>'requestId' = $1`,
      [requestId],
    );

  beforeAll(async () => {
    server = await startTestServer(engine);
    receiver = await WebhookReceiver.start();
    sensitive = await defineScope(server);
    ordinary = await defineScope(server);
    checker = await identityWithGrants(server, ['grants:read']);
    dataOf(
      await gql(server.url, server.adminKey, SET_POLICY, {
        scope: sensitive,
        input: { sensitive: true },
      }),
    );
    // The policy reaches the process through LISTEN/NOTIFY: wait (bounded) until a check of the
    // scope is logged.
    await expectEventually(
      async () => {
        await check(server.adminId, sensitive);
        return countRows(server, 'audit_events', `action like 'access.%' and actor_id = $1`, [
          checker.id,
        ]);
      },
      (n) => n > 0,
      'the first access event of a sensitive scope',
    );
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('should write the access event of a check about a sensitive scope, flagged, and none for others', async () => {
    const plain = await check(server.adminId, ordinary);
    const flagged = await check(server.adminId, sensitive);

    const [event] = await eventsOfRequest(server, requestIdOf(flagged));

    expect(event?.action).toBe('access.allowed');
    expect(event?.details).toMatchObject({ sensitive: true });
    expect(event?.details.scopes).toContain(sensitive);
    // Events are written in the order they were queued: the earlier request would be there by now.
    expect(await accessEventsOf(requestIdOf(plain))).toEqual([]);
  });

  it('should record a check that answers no about a sensitive scope as access.denied', async () => {
    const outsider = await createIdentity(server);

    const response = await check(outsider.id, sensitive);

    expect(dataOf(response).check.allowed).toBe(false);
    const [event] = await eventsOfRequest(server, requestIdOf(response));
    expect(event?.action).toBe('access.denied');
    expect(event?.details.denied).toEqual([
      expect.objectContaining({ coordinate: 'Query.check', code: 'DENIED', count: 1 }),
    ]);
    expect(event?.details).toMatchObject({ sensitive: true });
  });

  it('should alert a sensitiveOnly webhook on grants and denials of sensitive scopes only', async () => {
    const created = dataOf(
      await gql(server.url, server.adminKey, CREATE_WEBHOOK, {
        input: {
          url: receiver.url,
          actions: ['grant.created', 'access.denied'],
          sensitiveOnly: true,
        },
      }),
    );
    receiver.secret = created.createWebhook.secret;
    expect(created.createWebhook.webhook.sensitiveOnly).toBe(true);
    const target = await createIdentity(server);

    const plainGrant = await grant(server, target.id, { scope: ordinary });
    const flaggedGrant = await grant(server, target.id, { scope: sensitive });
    const denial = await check((await createIdentity(server)).id, sensitive);

    await receiver.waitUntil(
      () =>
        receiver
          .deliveredWith('grant.created')
          .some((d) => d.body.event.subjectId === flaggedGrant.id) &&
        receiver
          .deliveredWith('access.denied')
          .some((d) => d.body.event.details.request?.requestId === requestIdOf(denial)),
      15_000,
      'the alerts about the sensitive grant and denial',
    );
    for (const delivery of receiver.received) {
      expect(delivery.body.event.details.sensitive).toBe(true);
    }
    // The outbox row is written in the event's own transaction: none means never.
    const [queued] = await server.database.query<{ n: number }>(
      `select count(*)::int as n from webhook_deliveries d join audit_events a on a.id = d.event_id
        where a.action = 'grant.created' and a.subject_id = $1`,
      [plainGrant.id],
    );
    expect(Number(queued?.n)).toBe(0);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });
});

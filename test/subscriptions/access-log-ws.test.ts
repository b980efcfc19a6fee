import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_UNAVAILABLE } from '../../src/server/access-log-plugin.js';
import {
  type AccessRow,
  accessEvents,
  accessLogHealth,
  BARRIER,
  barrier,
  blockAccessWrites,
  eventsOfRequest,
  requestIdOf,
  unblockAccessWrites,
} from '../fixtures/access-log.js';
import { engines } from '../fixtures/engines.js';
import { eventually } from '../fixtures/eventually.js';
import { type GqlResponse, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, executeWs, type WsClient } from '../fixtures/ws.js';
import {
  AUDIT_SUBSCRIPTION,
  type AuditRecorder,
  eventsOf,
  expectEndedForbidden,
  markerIdentity,
  primeSubscriptions,
  subscribeToAudit,
} from './audit-subscriber.js';
import { revokeGrant } from './revoke.js';

/** The operation an access event of `AUDIT_SUBSCRIPTION` over WebSocket names. */
const SUBSCRIBED = {
  name: null,
  type: 'subscription',
  documentHash: createHash('sha256').update(AUDIT_SUBSCRIPTION).digest('hex'),
  transport: 'ws',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A query refused to a caller without scopes:read, so it writes access.denied. */
const REFUSED = 'query Refused { scope(name: "scopes:read") { name } }';

/** The access event of the HTTP request that answered `response`, once it is written. */
async function eventOf(server: TestServer, response: GqlResponse<unknown>): Promise<AccessRow> {
  const [row] = await eventsOfRequest(server, requestIdOf(response));
  if (row === undefined) throw new Error('The request wrote no access event.');
  return row;
}

describe.each(engines())('access events of WebSocket operations on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  const connect = async (key: string) => {
    const client = await connectAs(server.url, key);
    open.push(client);
    return client.client;
  };

  beforeAll(async () => {
    server = await startTestServer(engine, { accessLog: true });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should write one access.allowed event with transport ws when a caller with audit:read subscribes, and none per delivery', async () => {
    const auditor = await identityWithGrants(server, ['audit:read']);

    const recorder = subscribeToAudit(await connect(auditor.key));
    await primeSubscriptions([recorder], () => markerIdentity(server));
    const marker = await barrier(server, auditor.key);
    const events = await accessEvents(server, auditor.id);

    expect(events.map((e) => e.seq)).toEqual([expect.any(String), marker.seq]);
    const [subscribed] = events;
    expect(subscribed?.action).toBe('access.allowed');
    expect(subscribed?.details.operation).toEqual(SUBSCRIBED);
    expect(subscribed?.details.allowed).toEqual([
      { coordinate: 'Subscription.auditEvents', grantIds: [auditor.grants[0]?.id] },
    ]);
    expect(subscribed?.details.denied).toEqual([]);
    expect(subscribed?.details.scopes).toEqual(['audit:read']);
    expect(subscribed?.details.keyId).toBe(auditor.keyId);
    expect(subscribed?.details.request.requestId).toMatch(UUID);
    expect(subscribed?.details.request.requestId).not.toBe(marker.details.request.requestId);
  });

  it('should write one access.denied event when a caller without audit:read subscribes', async () => {
    const outsider = await identityWithGrants(server, ['identities:read']);

    const recorder = subscribeToAudit(await connect(outsider.key));
    const ending = await recorder.ended;
    const marker = await barrier(server, outsider.key);
    const events = await accessEvents(server, outsider.id);

    expect(ending).toEqual({ kind: 'complete' });
    const refusal = recorder.results[0]?.errors?.[0];
    expect(refusal?.extensions?.code).toBe('FORBIDDEN');
    expect(events.map((e) => e.seq)).toEqual([expect.any(String), marker.seq]);
    const [denied] = events;
    expect(denied?.action).toBe('access.denied');
    expect(denied?.details.operation).toEqual(SUBSCRIBED);
    expect(denied?.details.allowed).toEqual([]);
    expect(denied?.details.denied).toEqual([
      {
        coordinate: 'Subscription.auditEvents',
        code: 'FORBIDDEN',
        reason: refusal?.message,
        count: 1,
      },
    ]);
    expect(denied?.details.scopes).toEqual(['audit:read']);
  });

  it('should write an access.denied event after a live subscription ends because its grant was revoked', async () => {
    const auditor = await identityWithGrants(server, ['audit:read']);
    const recorder = subscribeToAudit(await connect(auditor.key));
    await primeSubscriptions([recorder], () => markerIdentity(server));
    const subscribed = await eventually(
      () => accessEvents(server, auditor.id),
      (rows) => rows.length > 0,
    );
    expect(subscribed.map((e) => e.action)).toEqual(['access.allowed']);

    await revokeGrant(server, auditor.grants[0]?.id as string);
    const error = await expectEndedForbidden(recorder);
    const marker = await barrier(server, auditor.key);
    const events = await accessEvents(server, auditor.id);

    expect(events.map((e) => [e.seq, e.action])).toEqual([
      [subscribed[0]?.seq, 'access.allowed'],
      [expect.any(String), 'access.denied'],
      [marker.seq, 'access.allowed'],
    ]);
    const ended = events[1];
    expect(ended?.details.operation).toEqual(SUBSCRIBED);
    expect(ended?.details.request.requestId).toBe(subscribed[0]?.details.request.requestId);
    expect(ended?.details.denied).toEqual([
      {
        coordinate: 'Subscription.auditEvents',
        code: 'FORBIDDEN',
        reason: error.message,
        count: 1,
      },
    ]);
    expect(ended?.details.scopes).toContain('audit:read');
  });

  describe('a subscriber filtering by decision', () => {
    let auditor: SeededPrincipal;
    let outsider: SeededPrincipal;

    beforeAll(async () => {
      auditor = await identityWithGrants(server, ['audit:read']);
      outsider = await identityWithGrants(server, []);
    });

    /** Subscribes with `{ decision: DENIED }`; live once this resolves (primed with refusals). */
    const deniedSubscription = async (): Promise<AuditRecorder> => {
      const recorder = subscribeToAudit(await connect(auditor.key), { decision: 'DENIED' });
      for (let attempt = 1; attempt <= 20; attempt++) {
        const refused = await eventOf(server, await gql(server.url, outsider.key, REFUSED));
        const received = await recorder
          .waitFor((r) => r.data?.auditEvents?.seq === refused.seq, 1000, `seq ${refused.seq}`)
          .then(
            () => true,
            () => false,
          );
        if (received) {
          recorder.mark();
          return recorder;
        }
      }
      throw new Error('The subscription never received a refusal.');
    };

    it("should receive another caller's refused HTTP query as access.denied, and no access.allowed event", async () => {
      const recorder = await deniedSubscription();
      const caller = await identityWithGrants(server, ['identities:read']);

      const allowed = await eventOf(
        server,
        await gql(server.url, caller.key, '{ identities(first: 1) { nodes { id } } }'),
      );
      const refused = await eventOf(server, await gql(server.url, caller.key, REFUSED));
      await recorder.waitFor(
        (r) => r.data?.auditEvents?.seq === refused.seq,
        5000,
        `the refusal at seq ${refused.seq}`,
      );

      expect(allowed.action).toBe('access.allowed');
      expect(refused.action).toBe('access.denied');
      const delivered = eventsOf(recorder.sinceMark());
      expect(new Set(delivered.map((e) => e.action))).toEqual(new Set(['access.denied']));
      expect(delivered.filter((e) => e.actorId === caller.id).map((e) => e.seq)).toEqual([
        refused.seq,
      ]);
      expect(delivered.map((e) => e.seq)).not.toContain(allowed.seq);
    });
  });
});

describe.each(engines())(
  'a WebSocket operation whose access cannot be recorded on %s',
  (engine) => {
    let server: TestServer;
    let client: WsClient | undefined;

    beforeAll(async () => {
      server = await startTestServer(engine, {
        accessLog: true,
        accessLogTuning: { capacity: 1, batchSize: 10, flushMs: 20, maxWaitMs: 300 },
      });
    });

    afterAll(async () => {
      await client?.dispose();
      await server?.stop();
    });

    it('should be refused with INTERNAL_SERVER_ERROR, deliver nothing and write no access event for it', async () => {
      const auditor = await identityWithGrants(server, ['audit:read']);
      const marker = await barrier(server, auditor.key);
      await blockAccessWrites(server);
      // The one event the queue holds.
      const queued = await gql(server.url, auditor.key, BARRIER);
      client = await connectAs(server.url, auditor.key);

      const { results, ending } = await executeWs(client.client, AUDIT_SUBSCRIPTION, {}, 10_000);
      await unblockAccessWrites(server);
      // Writes resume after the writer's backoff; until then a new request would find it full.
      const recovered = await eventually(
        () => accessLogHealth(server),
        (status) => status.pending === 0 && status.failingSince === null,
        20_000,
      );
      const after = await barrier(server, auditor.key);
      const events = await accessEvents(server, auditor.id);

      expect(queued.status).toBe(200);
      expect(recovered).toEqual({ pending: 0, failingSince: null });
      expect(ending).toEqual({ kind: 'complete' });
      expect(results).toHaveLength(1);
      expect(results[0]?.data ?? null).toBeNull();
      expect(results[0]?.errors).toHaveLength(1);
      expect(results[0]?.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(results[0]?.errors?.[0]?.message).toBe(ACCESS_LOG_UNAVAILABLE);
      // The refused subscription was served nothing, so it has no access event either.
      expect(events.map((e) => e.details.request.requestId)).toEqual([
        marker.details.request.requestId,
        queued.headers.get('x-request-id'),
        after.details.request.requestId,
      ]);
    });
  },
);

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants, type SeededPrincipal, unique } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, OperationRecorder, type WsClient } from '../fixtures/ws.js';

const SUBSCRIPTION = `subscription {
  accessRequests { id status resource requesterId scope { name } }
}`;
const REQUEST = `mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id } }`;
const APPROVE = 'mutation($id: ID!) { approveAccessRequest(id: $id) { id status } }';

interface Live {
  id: string;
  status: string;
  resource: string | null;
  requesterId: string;
  scope: { name: string };
}

type Recorder = OperationRecorder<{ accessRequests: Live }>;

describe.each(engines())('Subscription.accessRequests on %s', (engine) => {
  let server: TestServer;
  /** What the approver decides, and the other approver does not hold. */
  let scope: string;
  /** What the other approver decides. */
  let otherScope: string;
  let approver: SeededPrincipal;
  let otherApprover: SeededPrincipal;
  let requester: SeededPrincipal;
  const open: WsClient[] = [];

  const subscribe = async (key: string): Promise<Recorder> => {
    const client = await connectAs(server.url, key);
    open.push(client);
    return new OperationRecorder(client.client, SUBSCRIPTION);
  };

  const ask = async (key: string, scopeName: string, resource = unique('r')) =>
    (
      dataOf(
        await gql(server.url, key, REQUEST, {
          input: { scope: scopeName, resource, ttlSeconds: 60, reason: 'On call.' },
        }),
      ) as { requestAccess: { id: string } }
    ).requestAccess.id;

  const waitForRequest = (recorder: Recorder, id: string, status = 'PENDING', ms = 5000) =>
    recorder.waitFor(
      (r) => r.data?.accessRequests?.id === id && r.data.accessRequests.status === status,
      ms,
      `the ${status} request ${id}`,
    );

  const idsOf = (recorder: Recorder) =>
    recorder.results.flatMap((r) => (r.data?.accessRequests ? [r.data.accessRequests.id] : []));

  /** Requests of `scopeName` until `recorder` receives one, so it is live before the spec goes on. */
  const prime = async (recorder: Recorder, scopeName: string) => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = await ask(requester.key, scopeName);
      const received = await waitForRequest(recorder, id, 'PENDING', 500).then(
        () => true,
        () => false,
      );
      if (received) return;
    }
    throw new Error('The subscription never received a request.');
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
    scope = await defineScope(server);
    otherScope = await defineScope(server);
    approver = await identityWithGrants(server, [
      'grants:write',
      'grants:read',
      { scope, grantable: true },
    ]);
    otherApprover = await identityWithGrants(server, [
      'grants:write',
      'grants:read',
      { scope: otherScope, grantable: true },
    ]);
    requester = await identityWithGrants(server, []);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should deliver a new request to an identity that could approve it, and not to one that could not', async () => {
    const forApprover = await subscribe(approver.key);
    const forOther = await subscribe(otherApprover.key);
    await prime(forApprover, scope);
    await prime(forOther, otherScope);

    const wanted = await ask(requester.key, scope);
    const received = await waitForRequest(forApprover, wanted);
    // Events arrive in chain order: once the later request reached the other approver, the
    // earlier one would have too, had it been delivered.
    const barrier = await ask(requester.key, otherScope);
    await waitForRequest(forOther, barrier);

    expect(received.data?.accessRequests).toMatchObject({
      id: wanted,
      status: 'PENDING',
      requesterId: requester.id,
      scope: { name: scope },
    });
    expect(idsOf(forOther)).not.toContain(wanted);
    expect(idsOf(forApprover)).not.toContain(barrier);
  });

  it('should follow a request to its decision', async () => {
    const recorder = await subscribe(approver.key);
    await prime(recorder, scope);
    const id = await ask(requester.key, scope);
    await waitForRequest(recorder, id);

    dataOf(await gql(server.url, server.adminKey, APPROVE, { id }));

    const approved = await waitForRequest(recorder, id, 'APPROVED');
    expect(approved.data?.accessRequests.status).toBe('APPROVED');
  });

  it("should not deliver the subscriber's own requests", async () => {
    const recorder = await subscribe(approver.key);
    await prime(recorder, scope);

    const own = await ask(approver.key, scope);
    const barrier = await ask(requester.key, scope);
    await waitForRequest(recorder, barrier);

    expect(idsOf(recorder)).not.toContain(own);
  });

  it('should not deliver to an owned agent a request its owner could not decide (capped like every other path)', async () => {
    const barrierScope = await defineScope(server);
    const owner = await identityWithGrants(
      server,
      ['grants:write', 'grants:read', { scope: barrierScope, grantable: true }],
      { kind: 'USER' },
    );
    const agent = await identityWithGrants(
      server,
      [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
        { scope: barrierScope, grantable: true },
      ],
      { kind: 'AGENT', ownerId: owner.id },
    );
    const recorder = await subscribe(agent.key);
    await prime(recorder, barrierScope);

    const beyondOwner = await ask(requester.key, scope);
    const barrier = await ask(requester.key, barrierScope);
    await waitForRequest(recorder, barrier);

    expect(idsOf(recorder)).not.toContain(beyondOwner);
  });

  it('should refuse a subscriber without grants:write with FORBIDDEN and complete', async () => {
    const recorder = await subscribe(requester.key);

    const ending = await recorder.ended;

    expect(ending).toEqual({ kind: 'complete' });
    expect(recorder.results).toHaveLength(1);
    expect(recorder.results[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(recorder.results[0]?.errors?.[0]?.path).toEqual(['accessRequests']);
  });
});

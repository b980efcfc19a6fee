import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants, type SeededPrincipal, unique } from '../fixtures/seed.js';
import { countRows, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';
import { connectAs, OperationRecorder, type WsClient } from '../fixtures/ws.js';

const SUBSCRIPTION = 'subscription { accessRequests { id status } }';
const REQUEST = `mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id } }`;
const APPROVE = 'mutation($id: ID!) { approveAccessRequest(id: $id) { id status } }';
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name }
}`;
const CHECK = `query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }`;

type Recorder = OperationRecorder<{ accessRequests: { id: string; status: string } }>;

// Two instances need one database they both reach over the network: PGlite lives inside one
// process, so these specs run on PostgreSQL only.
const SKIP_REASON = '(PostgreSQL only: PGlite cannot be shared by two servers)';

describe.each(engines())('access requests across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let scope: string;
  let approvers: SeededPrincipal[];
  let requester: SeededPrincipal;
  const open: WsClient[] = [];

  const ask = async (server: TestServer, resource = unique('r')) =>
    (
      dataOf(
        await gql(server.url, requester.key, REQUEST, {
          input: { scope, resource, ttlSeconds: 60, reason: 'On call.' },
        }),
      ) as { requestAccess: { id: string } }
    ).requestAccess.id;

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances();
    ({ a, b } = instances);
    scope = await defineScope(a);
    approvers = [
      await identityWithGrants(a, ['grants:write', 'grants:read', { scope, grantable: true }]),
      await identityWithGrants(a, ['grants:write', 'grants:read', { scope, grantable: true }]),
    ];
    requester = await identityWithGrants(a, []);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    `should deliver a request made through one instance to an approver subscribed on another ${SKIP_REASON}`,
    async () => {
      const client = await connectAs(b.url, (approvers[0] as SeededPrincipal).key);
      open.push(client);
      const recorder: Recorder = new OperationRecorder(client.client, SUBSCRIPTION);
      let id = '';
      // The first requests may be committed before the subscription is live: ask until one arrives.
      for (let attempt = 0; attempt < 20 && id === ''; attempt++) {
        const asked = await ask(a);
        const received = await recorder
          .waitFor((r) => r.data?.accessRequests?.id === asked, 500, 'the request')
          .then(
            () => true,
            () => false,
          );
        if (received) id = asked;
      }

      expect(id).not.toBe('');
    },
  );

  it.skipIf(!shared)(
    `should make exactly one grant when approvals race on two instances ${SKIP_REASON}`,
    async () => {
      for (let round = 0; round < 5; round++) {
        const id = await ask(a);

        const responses = await Promise.all(
          [a, b, a, b].map((server, i) =>
            gql(server.url, (approvers[i % 2] as SeededPrincipal).key, APPROVE, { id }),
          ),
        );

        expect(responses.filter((r) => r.body.data?.approveAccessRequest)).toHaveLength(1);
        expect(await countRows(a, 'grants', 'reason like $1', [`Access request ${id}:%`])).toBe(1);
        expect(
          await countRows(
            a,
            'audit_events',
            `action = 'accessrequest.approved' and subject_id = $1`,
            [id],
          ),
        ).toBe(1);
      }
    },
  );

  it.skipIf(!shared)(
    `should log a check about a scope made sensitive through another instance ${SKIP_REASON}`,
    async () => {
      const watched = await defineScope(a);
      const checker = await identityWithGrants(a, ['grants:read']);
      dataOf(
        await gql(a.url, a.adminKey, SET_POLICY, { scope: watched, input: { sensitive: true } }),
      );

      const logged = await expectEventually(
        async () => {
          await gql(b.url, checker.key, CHECK, { id: b.adminId, scope: watched });
          return countRows(
            b,
            'audit_events',
            `action like 'access.%' and actor_id = $1 and details->>'sensitive' = 'true'`,
            [checker.id],
          );
        },
        (n) => n > 0,
        'the access event of a check through the other instance',
      );

      expect(logged).toBeGreaterThan(0);
    },
  );
});

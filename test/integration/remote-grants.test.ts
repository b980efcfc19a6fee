import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OrderRecord } from '../../examples/gateway/orders-schema.js';
import { startOrdersService } from '../../examples/gateway/orders-service.js';
import type { RunningService } from '../../examples/gateway/running-service.js';
import {
  conditionContextOf,
  type RemoteGrant,
  type RemoteGrantsError,
  remoteGrants,
} from '../../src/index.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql, readResponse } from '../fixtures/gql.js';
import { defineScope, identityWithGrants } from '../fixtures/seed.js';
import { startStubHttpServer, unusedUrl } from '../fixtures/stub-http-server.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const ORDERS: readonly OrderRecord[] = [
  { id: 'ord-1', item: 'Keyboard', total: 120, ownerId: 'someone' },
  { id: 'ord-2', item: 'Monitor', total: 300, ownerId: 'someone' },
  { id: 'eu-1', item: 'Desk', total: 450, ownerId: 'someone' },
];

/** A `fetch` that counts the requests it makes (to Keyholder). */
function countingFetch() {
  let calls = 0;
  const counted: typeof fetch = (input, init) => {
    calls += 1;
    return fetch(input, init);
  };
  return { fetch: counted, calls: () => calls };
}

describe.each(engines())(
  'remote grants: a service enforcing @requires against Keyholder on %s',
  (engine) => {
    let keyholder: TestServer;
    let orders: RunningService;
    const keyholderFetch = countingFetch();
    const heard: RemoteGrantsError[] = [];

    beforeAll(async () => {
      keyholder = await startTestServer(engine);
      for (const name of ['orders:read', 'orders:write', 'billing:read']) {
        await defineScope(keyholder, { name });
      }
      orders = await startOrdersService({
        keyholderUrl: `${keyholder.url}/graphql`,
        orders: ORDERS.map((order) => ({ ...order })),
        remote: { fetch: keyholderFetch.fetch, onError: (error) => heard.push(error) },
      });
    });

    afterEach(() => {
      heard.length = 0;
    });

    afterAll(async () => {
      await orders?.stop();
      await keyholder?.stop();
    });

    it('should serve fields the caller holds grants for', async () => {
      const reader = await identityWithGrants(keyholder, ['orders:read', 'billing:read']);

      const response = await gql(orders.url, reader.key, '{ orders { id item total } }');

      expect(dataOf(response).orders).toEqual(ORDERS.map(({ ownerId: _, ...order }) => order));
    });

    it('should deny a field the caller holds no grant for with FORBIDDEN and keep the rest', async () => {
      const reader = await identityWithGrants(keyholder, ['orders:read']);

      const response = await gql(orders.url, reader.key, '{ orders { id total } }');

      expect(response.body.data?.orders).toEqual(ORDERS.map(({ id }) => ({ id, total: null })));
      const error = expectError(
        response,
        'FORBIDDEN',
        'Access to "Order.total" requires scope "billing:read".',
      );
      expect(error.path).toEqual(['orders', 0, 'total']);
      expect(response.body.errors).toHaveLength(ORDERS.length);
    });

    it('should allow only the instances a resource grant covers', async () => {
      const reader = await identityWithGrants(keyholder, [
        { scope: 'orders:read', resource: 'ord-1' },
        { scope: 'orders:read', resource: 'eu-*' },
      ]);

      const response = await gql(
        orders.url,
        reader.key,
        '{ one: order(id: "ord-1") { id } two: order(id: "ord-2") { id } eu: order(id: "eu-1") { id } all: orders { id } }',
      );

      expect(response.body.data).toEqual({
        one: { id: 'ord-1' },
        two: null,
        eu: { id: 'eu-1' },
        all: null,
      });
      expect(response.body.errors?.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([
        ['two', 'FORBIDDEN'],
        ['all', 'FORBIDDEN'],
      ]);
    });

    it('should act as the identity Keyholder names for the key', async () => {
      const writer = await identityWithGrants(keyholder, ['orders:write']);

      const placed = dataOf(
        await gql(
          orders.url,
          writer.key,
          'mutation { placeOrder(item: "Chair", total: 80) { id owner { id } } }',
        ),
      ).placeOrder;
      const mine = dataOf(await gql(orders.url, writer.key, '{ myOrders { id item } }')).myOrders;

      expect(placed.owner).toEqual({ id: writer.id });
      expect(mine).toEqual([{ id: placed.id, item: 'Chair' }]);
    });

    it('should ask Keyholder once per request, for the grants and the caller alike', async () => {
      const reader = await identityWithGrants(keyholder, ['orders:read', 'billing:read']);
      const query = '{ orders { id total } order(id: "ord-1") { total } myOrders { id } }';

      const before = keyholderFetch.calls();
      dataOf(await gql(orders.url, reader.key, query));
      const afterFirst = keyholderFetch.calls();
      dataOf(await gql(orders.url, reader.key, query));

      expect(afterFirst - before).toBe(1);
      expect(keyholderFetch.calls() - afterFirst).toBe(1);
    });

    it('should deny the very next request after revokeGrant returns', async () => {
      const reader = await identityWithGrants(keyholder, ['orders:read']);
      dataOf(await gql(orders.url, reader.key, '{ orders { id } }'));

      dataOf(
        await gql(
          keyholder.url,
          keyholder.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Left the team.") { id } }',
          { id: reader.grants[0]?.id },
        ),
      );
      const after = await gql(orders.url, reader.key, '{ orders { id } }');

      expectError(after, 'FORBIDDEN', 'Access to "Query.orders" requires scope "orders:read".');
      expect(after.body.data).toEqual({ orders: null });
    });

    it('should treat a key Keyholder refuses as nobody, and tell onError', async () => {
      const response = await gql(
        orders.url,
        'kh_00000000_not-a-key-keyholder-knows',
        '{ health orders { id } myOrders { id } }',
      );

      expect(response.body.data).toEqual({ health: 'ok', orders: null, myOrders: null });
      expect(response.body.errors?.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([
        ['orders', 'FORBIDDEN'],
        ['myOrders', 'UNAUTHENTICATED'],
      ]);
      expect(heard.map((error) => error.reason)).toEqual(['UNAUTHENTICATED']);
    });

    it('should treat a revoked key as nobody on the very next request', async () => {
      const reader = await identityWithGrants(keyholder, ['orders:read']);
      dataOf(await gql(orders.url, reader.key, '{ orders { id } }'));

      dataOf(
        await gql(
          keyholder.url,
          keyholder.adminKey,
          'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
          {
            id: reader.keyId,
          },
        ),
      );
      const after = await gql(orders.url, reader.key, '{ orders { id } }');

      expectError(after, 'FORBIDDEN', 'requires scope "orders:read"');
      expect(heard.map((error) => error.reason)).toEqual(['UNAUTHENTICATED']);
    });

    it("should evaluate a grant's condition in the service, against the service's own request", async () => {
      const reader = await identityWithGrants(keyholder, [
        { scope: 'orders:read', condition: 'request.headers["x-team"] == "ops"' },
      ]);
      const ask = (team: string | null) =>
        fetch(orders.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${reader.key}`,
            ...(team === null ? {} : { 'x-team': team }),
          },
          body: JSON.stringify({ query: '{ orders { id } }' }),
        }).then(readResponse);

      expect(dataOf(await ask('ops')).orders.length).toBeGreaterThanOrEqual(ORDERS.length);
      const denied = await ask('sales');

      const error = expectError(
        denied,
        'FORBIDDEN',
        `A grant was held, but the condition of grant ${reader.grants[0]?.id} \`request.headers["x-team"] == "ops"\` was false (request.headers["x-team"] = "sales").`,
      );
      expect(error.extensions?.conditions).toEqual([
        expect.objectContaining({ source: 'GRANT', result: 'FALSE' }),
      ]);
      expectError(await ask(null), 'FORBIDDEN', 'errored and so denied');
    });

    it('should withhold conditional grants from a source used without conditions', async () => {
      const scope = await defineScope(keyholder);
      const holder = await identityWithGrants(keyholder, [
        'orders:read',
        { scope, condition: 'request.hour >= 0' },
      ]);
      const plain = remoteGrants<{ key: string }>({
        url: `${keyholder.url}/graphql`,
        apiKey: (ctx) => ctx.key,
      });

      const granted = await plain.grants({ key: holder.key });

      expect(granted.map((g) => g.scope)).toEqual(['orders:read']);
      expect(plain.gate({ key: holder.key })).toBeUndefined();
    });

    it('should hand conditional grants only to an operation that asked for the gate first', async () => {
      const scope = await defineScope(keyholder);
      const holder = await identityWithGrants(keyholder, [
        { scope, condition: 'request.hour >= 0' },
      ]);
      const remote = remoteGrants<{ key: string }>({
        url: `${keyholder.url}/graphql`,
        apiKey: (ctx) => ctx.key,
        conditions: () => conditionContextOf({ ip: '10.0.0.1' }),
      });
      const ungated = { key: holder.key };
      const gatedContext = { key: holder.key };

      expect(await remote.grants(ungated)).toEqual([]);
      const gate = remote.gate(gatedContext);
      const granted = await remote.grants(gatedContext);

      expect(granted).toEqual([
        expect.objectContaining({ scope, condition: 'request.hour >= 0', policyCondition: null }),
      ]);
      expect(gate?.admits(granted[0] as RemoteGrant, null)).toBe(true);
    });

    it('should not ask Keyholder about a caller who sent no key', async () => {
      const before = keyholderFetch.calls();

      const response = await gql(orders.url, null, '{ health orders { id } }');

      expect(response.body.data).toEqual({ health: 'ok', orders: null });
      expectError(response, 'FORBIDDEN');
      expect(keyholderFetch.calls()).toBe(before);
      expect(heard).toEqual([]);
    });
  },
);

describe('remote grants when Keyholder cannot answer', () => {
  const QUERY = '{ health orders { id } myOrders { id } }';
  let orders: RunningService | undefined;
  let stop: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await orders?.stop();
    await stop?.();
    orders = undefined;
    stop = undefined;
  });

  /** Starts the orders service against `keyholderUrl`; returns what its error hook hears. */
  async function ordersAgainst(keyholderUrl: string, timeoutMs?: number) {
    const heard: RemoteGrantsError[] = [];
    orders = await startOrdersService({
      keyholderUrl,
      orders: ORDERS.map((order) => ({ ...order })),
      remote: {
        onError: (error) => heard.push(error),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
    });
    return { url: orders.url, heard };
  }

  function expectFailedClosed(response: Awaited<ReturnType<typeof gql>>) {
    expect(response.body.data).toEqual({ health: 'ok', orders: null, myOrders: null });
    expect(response.body.errors?.map((e) => e.extensions)).toEqual([
      { code: 'FORBIDDEN', reason: 'GRANTS_UNAVAILABLE', coordinate: 'Query.orders' },
      { code: 'FORBIDDEN', reason: 'GRANTS_UNAVAILABLE', coordinate: 'Query.myOrders' },
    ]);
  }

  it('should deny every guarded field when Keyholder is down, and tell onError', async () => {
    const service = await ordersAgainst(await unusedUrl());

    const response = await gql(service.url, 'kh_any_key', QUERY);

    expectFailedClosed(response);
    expect(service.heard.map((error) => [error.reason, error.message])).toEqual([
      [
        'UNREACHABLE',
        expect.stringMatching(/^Keyholder at http:\/\/127\.0\.0\.1:\d+ could not be reached\.$/),
      ],
    ]);
  });

  it('should deny every guarded field when Keyholder does not answer within timeoutMs', async () => {
    const hanging = await startStubHttpServer(() => {});
    stop = hanging.stop;
    const service = await ordersAgainst(hanging.url, 200);

    const response = await gql(service.url, 'kh_any_key', QUERY);

    expectFailedClosed(response);
    expect(service.heard.map((error) => [error.reason, error.message])).toEqual([
      ['TIMEOUT', expect.stringMatching(/did not answer within 200 ms\.$/)],
    ]);
    expect(hanging.requests()).toBe(1);
  });

  it.each([
    {
      what: 'a non-2xx status',
      status: 502,
      body: 'Bad gateway',
      reason: 'HTTP_STATUS',
    },
    {
      what: 'GraphQL errors',
      status: 200,
      body: JSON.stringify({
        errors: [
          { message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
        ],
        data: null,
      }),
      reason: 'GRAPHQL_ERRORS',
    },
    { what: 'a body that is not JSON', status: 200, body: '<html>', reason: 'BAD_RESPONSE' },
    {
      what: 'data without the caller',
      status: 200,
      body: JSON.stringify({
        data: { me: { id: 'x', grants: [{ id: 'g', scope: 'orders:read' }] } },
      }),
      reason: 'BAD_RESPONSE',
    },
  ])(
    'should deny every guarded field when Keyholder answers with $what',
    async ({ status, body, reason }) => {
      const broken = await startStubHttpServer((res) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      });
      stop = broken.stop;
      const service = await ordersAgainst(broken.url);

      const response = await gql(service.url, 'kh_any_key', QUERY);

      expectFailedClosed(response);
      expect(service.heard.map((error) => error.reason)).toEqual([reason]);
    },
  );
});

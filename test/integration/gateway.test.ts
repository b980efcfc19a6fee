import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../../examples/gateway/start-example.js';
import { ensureBuilt } from '../fixtures/built.js';
import { createScratchDataDir, type ScratchDataDir } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal, type Target } from '../fixtures/seed.js';
import { ADMIN_KEY } from '../fixtures/test-server.js';

// Keyholder, the orders service and the gateway, each a real process (examples/gateway),
// talking real HTTP; grants are seeded and revoked through Keyholder's API.
describe('the stitching gateway (examples/gateway), three processes', () => {
  let dataDir: ScratchDataDir;
  let example: RunningExample;
  let keyholder: Target;
  let ada: SeededPrincipal;

  const asAda = (query: string) => gql(example.gatewayUrl, ada.key, query);

  beforeAll(async () => {
    ensureBuilt([
      'dist/src/main.js',
      'dist/examples/gateway/orders-main.js',
      'dist/examples/gateway/gateway-main.js',
    ]);
    // A copy of an empty PGlite cluster: Keyholder skips initdb, most of an embedded first start.
    dataDir = await createScratchDataDir();
    example = await startExample({ adminKey: ADMIN_KEY, dataDir: dataDir.path });
    keyholder = { url: example.keyholderUrl, adminKey: ADMIN_KEY };
    ada = await identityWithGrants(keyholder, ['orders:read', 'orders:write'], { name: 'ada' });
    dataOf(await asAda('mutation { placeOrder(item: "Keyboard", total: 120) { id } }'));
  }, 120_000);

  afterAll(async () => {
    await example?.stop();
    await dataDir?.remove();
  });

  it('should answer one query spanning the orders service and Keyholder', async () => {
    const response = await asAda('{ me { name } myOrders { id item owner { id name kind } } }');

    expect(dataOf(response)).toEqual({
      me: { name: 'ada' },
      myOrders: [
        { id: 'ord-1', item: 'Keyboard', owner: { id: ada.id, name: 'ada', kind: 'USER' } },
      ],
    });
  });

  it('should deny a field the caller holds no grant for with FORBIDDEN and keep the rest', async () => {
    const response = await asAda('{ orders { id total } }');

    expect(response.body.data).toEqual({ orders: [{ id: 'ord-1', total: null }] });
    const error = expectError(
      response,
      'FORBIDDEN',
      'Access to "Order.total" requires scope "billing:read".',
    );
    expect(error.path).toEqual(['orders', 0, 'total']);
    expect(response.body.errors).toHaveLength(1);
  });

  it('should let Keyholder deny its own fields through the gateway', async () => {
    const bob = await identityWithGrants(keyholder, ['orders:read']);

    const response = await gql(example.gatewayUrl, bob.key, '{ orders { id owner { name } } }');

    expect(response.body.data).toEqual({ orders: [{ id: 'ord-1', owner: null }] });
    expectError(
      response,
      'FORBIDDEN',
      'requires scope "identities:read" (or being the identity it belongs to)',
    );
  });

  it('should deny through the gateway on the very next request after revokeGrant returns', async () => {
    dataOf(await asAda('{ orders { id } }'));

    dataOf(
      await gql(
        example.keyholderUrl,
        ADMIN_KEY,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Left the team.") { id } }',
        { id: ada.grants.find((grant) => grant.scope === 'orders:read')?.id },
      ),
    );
    const after = await asAda('{ orders { id } myOrders { id } }');

    expectError(after, 'FORBIDDEN', 'Access to "Query.orders" requires scope "orders:read".');
    expect(after.body.data).toEqual({ orders: null, myOrders: [{ id: 'ord-1' }] });
  });
});

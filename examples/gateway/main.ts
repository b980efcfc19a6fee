import { randomBytes } from 'node:crypto';
import { callGraphql } from './call-graphql.js';
import { startExample } from './start-example.js';

// npm run example:gateway  (after npm run build; KEYHOLDER_PORT, ORDERS_PORT, GATEWAY_PORT,
// BOOTSTRAP_ADMIN_KEY optional)
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const adminKey = process.env.BOOTSTRAP_ADMIN_KEY ?? `kh_example_${randomBytes(24).toString('hex')}`;
const example = await startExample({
  adminKey,
  ports: {
    keyholder: port('KEYHOLDER_PORT', 4000),
    orders: port('ORDERS_PORT', 4001),
    gateway: port('GATEWAY_PORT', 4002),
  },
});
const stop = () => {
  example.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

// A user who may read and place orders, but not read their totals (billing:read).
const asAdmin = (query: string, variables?: Record<string, unknown>) =>
  callGraphql(example.keyholderUrl, adminKey, query, variables);
const { createIdentity: ada } = await asAdmin(
  'mutation { createIdentity(input: { name: "ada", kind: USER }) { id } }',
);
const { createApiKey } = await asAdmin(
  'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "laptop" }) { secret } }',
  { id: ada.id },
);
const grantIds: string[] = [];
for (const scope of ['orders:read', 'orders:write']) {
  const { grant } = await asAdmin(
    'mutation($id: ID!, $scope: String!) { grant(input: { identityId: $id, scope: $scope, reason: "Example user." }) { id } }',
    { id: ada.id, scope },
  );
  grantIds.push(grant.id);
}
await callGraphql(
  example.gatewayUrl,
  createApiKey.secret,
  'mutation { placeOrder(item: "Keyboard", total: 120) { id } }',
);

const curl = (url: string, key: string, query: string) =>
  `curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer ${key}" \\\n    -d '${JSON.stringify({ query })}'`;
console.log(`
Keyholder  ${example.keyholderUrl}   (root admin key: ${adminKey})
Orders     ${example.ordersUrl}
Gateway    ${example.gatewayUrl}   (Keyholder's schema and the orders schema, stitched)

Ada holds orders:read and orders:write, not billing:read. Her key: ${createApiKey.secret}

One query through the gateway, spanning both services (total is FORBIDDEN: billing:read):
  ${curl(example.gatewayUrl, createApiKey.secret, '{ me { name } myOrders { id item total owner { name kind } } }')}

Revoke her orders:read in Keyholder, then run the query again: myOrders is still hers, orders is denied:
  ${curl(example.keyholderUrl, adminKey, `mutation { revokeGrant(id: "${grantIds[0]}", reason: "Example.") { active } }`)}
  ${curl(example.gatewayUrl, createApiKey.secret, '{ orders { id } }')}

Ctrl-C stops all three.`);

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, executeWs } from '../fixtures/ws.js';
import { revokeGrant } from '../subscriptions/revoke.js';

const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id scopes { scope resource } } }
}`;
const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) { allowed reason }
}`;
const GRANT = `mutation($input: GrantInput!) { grant(input: $input) { id } }`;

let counter = 0;
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

interface KeyScopeInput {
  scope: string;
  resource?: string | null;
}

describe.each(engines())('scoped API keys on %s', (engine) => {
  let server: TestServer;
  let orders: string;
  let ordersWrite: string;

  beforeAll(async () => {
    server = await startTestServer(engine);
    orders = await defineScope(server);
    ordersWrite = orders.replace(/:read$/, ':write');
    await defineScope(server, { name: ordersWrite });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const createKey = (as: string, identityId: string, scopes?: KeyScopeInput[] | null, extra = {}) =>
    gql<{
      createApiKey: { secret: string; apiKey: { id: string; scopes: KeyScopeInput[] | null } };
    }>(server.url, as, CREATE_KEY, {
      input: {
        identityId,
        name: unique('key'),
        ...(scopes === undefined ? {} : { scopes }),
        ...extra,
      },
    });
  const scopedKey = async (principal: SeededPrincipal, scopes: KeyScopeInput[]) =>
    dataOf(await createKey(principal.key, principal.id, scopes)).createApiKey;
  const check = async (key: string, id: string, scope: string, resource?: string) =>
    dataOf(
      await gql<{ check: { allowed: boolean; reason: string } }>(server.url, key, CHECK, {
        id,
        scope,
        resource,
      }),
    ).check;

  describe('a key for yourself', () => {
    it('should act with at most its scopes, on the resources they name', async () => {
      const holder = await identityWithGrants(server, [orders, ordersWrite, 'identities:read']);
      const { secret, apiKey } = await scopedKey(holder, [{ scope: orders, resource: 'eu-*' }]);

      expect(apiKey.scopes).toEqual([{ scope: orders, resource: 'eu-*' }]);
      expect((await check(secret, holder.id, orders, 'eu-1')).allowed).toBe(true);
      expect((await check(secret, holder.id, orders, 'us-1')).allowed).toBe(false);
      expect(await check(secret, holder.id, ordersWrite, 'eu-1')).toEqual({
        allowed: false,
        reason: `Identity "${holder.name}" holds a grant of "${ordersWrite}" covering resource "eu-1", but the API key in use is scoped and does not cover it.`,
      });
      // The identity itself still holds all of it: asked through its unscoped key.
      expect((await check(holder.key, holder.id, ordersWrite, 'eu-1')).allowed).toBe(true);
      // @requires sees the key's scopes: identities:read is held but not covered.
      expectError(
        await gql(server.url, secret, '{ identities(first: 1) { nodes { id } } }'),
        'FORBIDDEN',
        'identities:read',
      );
      expect(
        dataOf(await gql(server.url, holder.key, '{ identities(first: 1) { nodes { id } } }')),
      ).toBeTruthy();
    });

    it('should need no scope to create, only holding what it names', async () => {
      const holder = await identityWithGrants(server, [orders]);

      const made = await scopedKey(holder, [{ scope: orders }]);
      expect(made.apiKey.scopes).toEqual([{ scope: orders, resource: null }]);

      expectError(
        await createKey(holder.key, holder.id, [{ scope: ordersWrite }]),
        'FORBIDDEN',
        `A key for yourself can name only what you hold; you do not hold "${ordersWrite}"`,
      );
      expectError(
        await createKey(holder.key, holder.id, null),
        'FORBIDDEN',
        'A key for yourself that names its scopes needs neither.',
      );
      expectError(
        await createKey(holder.key, holder.id, [{ scope: 'nowhere:read' }]),
        'BAD_USER_INPUT',
        'Scope "nowhere:read" is not defined; a key can name only defined scopes.',
      );
      expectError(
        await createKey(holder.key, holder.id, [{ scope: 'Not A Scope' }]),
        'BAD_USER_INPUT',
        'is not a valid scope name',
      );
      expectError(
        await createKey(holder.key, holder.id, [{ scope: orders, resource: 'a*b' }]),
        'BAD_USER_INPUT',
        'may contain "*" only as its last character',
      );
      const tooMany = Array.from({ length: 101 }, (_, i) => ({ scope: orders, resource: `r${i}` }));
      expectError(
        await createKey(holder.key, holder.id, tooMany),
        'BAD_USER_INPUT',
        'A key may name at most 100 scopes; 101 were given.',
      );
    });

    it('should follow the identity live: a revoked grant is gone from the key at once', async () => {
      const holder = await identityWithGrants(server, [orders]);
      const { secret } = await scopedKey(holder, [{ scope: orders }]);
      expect((await check(secret, holder.id, orders)).allowed).toBe(true);

      await revokeGrant(server, holder.grants[0]?.id as string);

      expect((await check(secret, holder.id, orders)).allowed).toBe(false);
    });

    it('should make a key created with a scoped key as narrow as it, or narrower', async () => {
      const holder = await identityWithGrants(server, [
        orders,
        ordersWrite,
        'identities:write',
        'identities:read',
      ]);
      const narrow = [
        { scope: 'identities:write', resource: null },
        { scope: 'identities:read', resource: null },
        { scope: orders, resource: 'eu-*' },
      ];
      const { secret } = await scopedKey(holder, narrow);

      const inherited = dataOf(await createKey(secret, holder.id)).createApiKey;
      expect(inherited.apiKey.scopes).toEqual(narrow);
      expectError(
        await createKey(secret, holder.id, [{ scope: ordersWrite }]),
        'FORBIDDEN',
        `you do not hold "${ordersWrite}"`,
      );
      expectError(
        await createKey(secret, holder.id, [{ scope: orders }]),
        'FORBIDDEN',
        `you do not hold "${orders}" on every resource`,
      );
      expect((await check(inherited.secret, holder.id, orders, 'us-1')).allowed).toBe(false);
    });

    it('should not delegate what it does not cover', async () => {
      const delegator = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope: orders, grantable: true },
        { scope: ordersWrite, grantable: true },
      ]);
      const { secret } = await scopedKey(delegator, [
        { scope: 'grants:write' },
        { scope: 'grants:read' },
        { scope: orders, resource: 'eu-*' },
      ]);
      const grantee = await createIdentity(server);
      const input = (scope: string, resource?: string) => ({
        input: {
          identityId: grantee.id,
          scope,
          reason: 'Scoped delegation.',
          ...(resource ? { resource } : {}),
        },
      });

      dataOf(await gql(server.url, secret, GRANT, input(orders, 'eu-1')));
      expectError(await gql(server.url, secret, GRANT, input(orders, 'us-1')), 'FORBIDDEN');
      expectError(await gql(server.url, secret, GRANT, input(ordersWrite)), 'FORBIDDEN');
      // The same identity, through its unscoped key, may.
      dataOf(await gql(server.url, delegator.key, GRANT, input(ordersWrite)));
    });

    it("should hold AuthZEN to the key's scopes for the caller's decisions:execute", async () => {
      const pep = await identityWithGrants(server, ['decisions:execute', orders]);
      const { secret } = await scopedKey(pep, [{ scope: orders }]);
      const ask = (key: string) =>
        fetch(`${server.url}/access/v1/evaluation`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            subject: { type: 'identity', id: pep.id },
            action: { name: orders },
            resource: { type: 'order', id: 'eu-1' },
          }),
        });

      expect((await ask(pep.key)).status).toBe(200);
      const refused = await ask(secret);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('decisions:execute');
    });

    it('should hold WebSocket operations to the key scopes', async () => {
      const reader = await identityWithGrants(server, ['identities:read', orders]);
      const { secret } = await scopedKey(reader, [{ scope: orders }]);
      const ws = await connectAs(server.url, secret);
      try {
        const { results } = await executeWs(ws.client, '{ identities(first: 1) { nodes { id } } }');
        expect(results[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const own = await executeWs(ws.client, '{ me { id apiKeys { scopes { scope } } } }');
        expect(own.results[0]?.data?.me?.id).toBe(reader.id);
      } finally {
        await ws.dispose();
      }
    });
  });

  describe('a key for another identity', () => {
    it('should not gain what the identity is granted after the key was minted', async () => {
      // Holds identities:write, delegates nothing: the key it mints can use nothing, ever.
      const minter = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const target = await createIdentity(server, { kind: 'SERVICE' });
      const { secret, apiKey } = dataOf(await createKey(minter.key, target.id)).createApiKey;
      expect(apiKey.scopes).toEqual([]);

      await grant(server, target.id, { scope: orders });
      await grant(server, target.id, { scope: 'grants:read' });

      expect((await check(secret, target.id, orders)).allowed).toBe(false);
      expectError(
        await gql(server.url, secret, '{ grants(first: 1) { nodes { id } } }'),
        'FORBIDDEN',
        'grants:read',
      );
      // A key the admin mints now carries what the admin may delegate.
      const adminMade = dataOf(await createKey(server.adminKey, target.id)).createApiKey;
      expect((await check(adminMade.secret, target.id, orders)).allowed).toBe(true);
    });

    it('should be capped by what the minter could delegate then, not what the target holds', async () => {
      const minter = await identityWithGrants(server, [
        'identities:write',
        'identities:read',
        { scope: orders, resource: 'eu-*', grantable: true },
      ]);
      const target = await identityWithGrants(server, [orders, ordersWrite]);

      const { secret, apiKey } = dataOf(await createKey(minter.key, target.id)).createApiKey;

      expect(apiKey.scopes).toEqual([{ scope: orders, resource: 'eu-*' }]);
      expect((await check(secret, target.id, orders, 'eu-2')).allowed).toBe(true);
      expect((await check(secret, target.id, orders, 'us-2')).allowed).toBe(false);
      expect((await check(secret, target.id, ordersWrite)).allowed).toBe(false);
      expectError(
        await createKey(minter.key, target.id, [{ scope: ordersWrite }]),
        'FORBIDDEN',
        `you do not hold "${ordersWrite}" on every resource with grantable: true`,
      );
    });

    it('should not count authority held under a condition or ending within the key life', async () => {
      const minter = await identityWithGrants(server, [
        'identities:write',
        'identities:read',
        { scope: orders, grantable: true, condition: 'request.time.getHours() >= 0' },
        { scope: ordersWrite, grantable: true, ttlSeconds: 60 },
      ]);
      const target = await createIdentity(server, { kind: 'SERVICE' });

      const forever = dataOf(await createKey(minter.key, target.id)).createApiKey;
      expect(forever.apiKey.scopes).toEqual([]);
      expectError(
        await createKey(minter.key, target.id, [{ scope: orders }]),
        'FORBIDDEN',
        'without a condition and without expiry',
      );
      expectError(
        await createKey(minter.key, target.id, [{ scope: ordersWrite }]),
        'FORBIDDEN',
        `you do not hold "${ordersWrite}"`,
      );
      // A key that ends before the grant does may rest on it.
      const short = dataOf(
        await createKey(minter.key, target.id, [{ scope: ordersWrite }], { ttlSeconds: 30 }),
      ).createApiKey;
      expect(short.apiKey.scopes).toEqual([{ scope: ordersWrite, resource: null }]);
    });
  });
});

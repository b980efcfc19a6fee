import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError, expectNoData } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, grant, identityWithGrants, sleep } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const LIST_IDENTITIES = '{ identities(first: 1) { nodes { id } } }';

describe.each(engines())('revocation and expiry on %s', (engine) => {
  let server: TestServer;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should deny the very next request after revokeGrant returns', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    dataOf(await gql(server.url, holder.key, LIST_IDENTITIES));

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Offboarded.") { id } }', {
        id: holder.grants[0]?.id,
      }),
    );
    const after = await gql(server.url, holder.key, LIST_IDENTITIES);

    expectError(
      after,
      'FORBIDDEN',
      'Access to "Query.identities" requires scope "identities:read".',
    );
    expectNoData(after);
  });

  it('should answer check with denied right after revokeGrant returns', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    const query =
      'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }';
    expect(dataOf(await asAdmin(query, { id: holder.id, scope })).check.allowed).toBe(true);

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }', {
        id: holder.grants[0]?.id,
      }),
    );

    expect(dataOf(await asAdmin(query, { id: holder.id, scope })).check.allowed).toBe(false);
    expect(
      dataOf(await gql(server.url, holder.key, query, { id: holder.id, scope })).check.allowed,
    ).toBe(false);
  });

  it('should refuse a key on the very next request after revokeApiKey returns', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    dataOf(await gql(server.url, holder.key, LIST_IDENTITIES));

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: holder.keyId }),
    );
    const after = await gql(server.url, holder.key, '{ me { id } }');

    expectError(after, 'UNAUTHENTICATED', 'has been revoked');
    expect(after.body.data ?? null).toBeNull();
  });

  it('should refuse every key of an identity on the very next request after disableIdentity returns', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    const second = dataOf(
      await asAdmin(
        'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "second" }) { secret } }',
        { id: holder.id },
      ),
    ).createApiKey.secret as string;
    dataOf(await gql(server.url, second, '{ me { id } }'));

    dataOf(
      await asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: holder.id }),
    );

    expectError(
      await gql(server.url, holder.key, '{ me { id } }'),
      'UNAUTHENTICATED',
      'is disabled',
    );
    expectError(await gql(server.url, second, '{ me { id } }'), 'UNAUTHENTICATED', 'is disabled');
  });

  it('should stop a grant with ttlSeconds: 1 from authorizing once it has expired', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, ['grants:read']);
    const temporary = await grant(server, holder.id, { scope: 'identities:read', ttlSeconds: 1 });
    const scoped = await grant(server, holder.id, { scope, ttlSeconds: 1 });
    const lastExpiry = Math.max(
      Date.parse(temporary.expiresAt ?? ''),
      Date.parse(scoped.expiresAt ?? ''),
    );

    // Wait until the expiry has passed (not a timing assertion: only waiting past it).
    await sleep(Math.max(0, lastExpiry - Date.now()) + 150);
    const listing = await gql(server.url, holder.key, LIST_IDENTITIES);
    const decision = dataOf(
      await gql(
        server.url,
        holder.key,
        'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }',
        { id: holder.id, scope },
      ),
    );
    const mine = dataOf(
      await gql(
        server.url,
        holder.key,
        '{ me { live: grants { id } all: grants(active: false) { id active } } }',
      ),
    );

    expectError(listing, 'FORBIDDEN', 'requires scope "identities:read"');
    expect(decision.check.allowed).toBe(false);
    expect(mine.me.live.map((g: { id: string }) => g.id)).toEqual([holder.grants[0]?.id]);
    expect(mine.me.all).toEqual(
      expect.arrayContaining([
        { id: temporary.id, active: false },
        { id: scoped.id, active: false },
      ]),
    );
  });

  it('should let a grant expire without blocking a new grant of the same scope', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [{ scope, ttlSeconds: 1 }]);
    await sleep(Math.max(0, Date.parse(holder.grants[0]?.expiresAt ?? '') - Date.now()) + 150);

    const renewed = await grant(server, holder.id, { scope, ttlSeconds: 60 });

    expect(renewed.id).not.toBe(holder.grants[0]?.id);
  });
});

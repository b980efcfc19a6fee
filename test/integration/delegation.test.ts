import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededIdentity,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const GRANT = 'mutation($input: GrantInput!) { grant(input: $input) { id resource expiresAt } }';
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Taking it back.") { id } }';
const CREATE_KEY =
  'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }';

const CREATE_KEY_SCOPES = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id scopes { scope resource } } }
}`;

describe.each(engines())('delegation and no self-escalation on %s', (engine) => {
  let server: TestServer;
  /** Defined by the admin; the delegator holds it grantable on eu-* only. */
  let regional: string;
  /** Held by the delegator without grantable. */
  let plain: string;
  /** Held by the delegator grantable for an hour. */
  let temporary: string;
  let delegator: SeededPrincipal;
  let target: SeededIdentity;

  beforeAll(async () => {
    server = await startTestServer(engine);
    regional = await defineScope(server);
    plain = await defineScope(server);
    temporary = await defineScope(server);
    delegator = await identityWithGrants(server, [
      'grants:write',
      'grants:read',
      'identities:read',
      { scope: regional, resource: 'eu-*', grantable: true },
      plain,
      { scope: temporary, grantable: true, ttlSeconds: 3600 },
    ]);
    target = await createIdentity(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Runs a request that must be refused, and shows it changed nothing. */
  async function refused(
    run: () => Promise<GqlResponse<unknown>>,
    code: string,
    message: string | RegExp,
  ) {
    const before = await snapshot(server);
    const response = await run();
    const error = expectError(response, code, message);
    expect(await snapshot(server)).toEqual(before);
    return { response, error };
  }

  const grantAs = (key: string, input: Record<string, unknown>) =>
    gql(server.url, key, GRANT, { input: { reason: 'Delegation test.', ...input } });

  it('should refuse to grant without grants:write, even holding the scope grantable', async () => {
    const holder = await identityWithGrants(server, [
      'grants:read',
      { scope: regional, grantable: true },
    ]);

    const { error } = await refused(
      () => grantAs(holder.key, { identityId: target.id, scope: regional }),
      'FORBIDDEN',
      'Access to "Mutation.grant" requires scopes "grants:write", "grants:read".',
    );
    expect(error.extensions?.required).toMatchObject({ allOf: ['grants:write', 'grants:read'] });
  });

  it('should refuse to grant a scope the granter does not hold', async () => {
    const { error } = await refused(
      () => grantAs(delegator.key, { identityId: target.id, scope: 'identities:write' }),
      'FORBIDDEN',
      'Granting "identities:write" on every resource requires holding it with grantable: true, and you do not.',
    );
    expect(error.extensions?.required).toEqual({
      scope: 'identities:write',
      resource: null,
      grantable: true,
    });
  });

  it('should refuse to grant a scope held without grantable', async () => {
    const { error } = await refused(
      () => grantAs(delegator.key, { identityId: target.id, scope: plain }),
      'FORBIDDEN',
      `Granting "${plain}" on every resource requires holding it with grantable: true`,
    );
    expect(error.extensions?.required).toMatchObject({ scope: plain, grantable: true });
  });

  it.each([
    ['another resource', 'us-1', 'resource "us-1"'],
    ['a wider prefix', 'e*', 'resources starting with "e"'],
    ['every resource', null, 'every resource'],
  ])(
    "should refuse to grant on %s outside the granter's prefix",
    async (_, resource, described) => {
      await refused(
        () => grantAs(delegator.key, { identityId: target.id, scope: regional, resource }),
        'FORBIDDEN',
        `Granting "${regional}" on ${described} requires holding it with grantable: true`,
      );
    },
  );

  it("should grant on a resource inside the granter's prefix", async () => {
    const made = dataOf(
      await grantAs(delegator.key, { identityId: target.id, scope: regional, resource: 'eu-7' }),
    );

    expect(made.grant.resource).toBe('eu-7');
  });

  it('should refuse granting to oneself, even for the bootstrap admin', async () => {
    await refused(
      () => grantAs(delegator.key, { identityId: delegator.id, scope: regional, resource: 'eu-1' }),
      'FORBIDDEN',
      'An identity cannot grant to itself',
    );
    const scope = await defineScope(server);
    await refused(
      () =>
        grantAs(server.adminKey, {
          identityId: server.adminId,
          scope,
          resource: 'anything',
        }),
      'FORBIDDEN',
      'An identity cannot grant to itself',
    );
  });

  it.each([
    ['without expiry', {}],
    ['for longer (ttlSeconds)', { ttlSeconds: 7200 }],
    ['for longer (expiresAt)', { expiresAt: new Date(Date.now() + 86_400_000).toISOString() }],
  ])("should refuse a grant %s than the granter's own temporary grant", async (_, expiry) => {
    const { error } = await refused(
      () => grantAs(delegator.key, { identityId: target.id, scope: temporary, ...expiry }),
      'FORBIDDEN',
      `This grant would outlive your own grant of "${temporary}"`,
    );
    const required = error.extensions?.required as { expiresAtOrBefore?: string } | undefined;
    expect(required).toEqual({ expiresAtOrBefore: expect.any(String) });
    expect(Date.parse(required?.expiresAtOrBefore ?? '')).toBe(
      Date.parse(delegator.grants[5]?.expiresAt ?? ''),
    );
  });

  it("should grant within the granter's own temporary grant", async () => {
    const made = dataOf(
      await grantAs(delegator.key, { identityId: target.id, scope: temporary, ttlSeconds: 60 }),
    );

    expect(made.grant.expiresAt).not.toBeNull();
  });

  it("should refuse to revoke someone else's grant without being its grantor or holding it grantable", async () => {
    const scope = await defineScope(server);
    const victim = await identityWithGrants(server, [scope]);
    const outsider = await identityWithGrants(server, ['grants:write', 'grants:read', scope]);
    const grantId = victim.grants[0]?.id;

    const { error } = await refused(
      () => gql(server.url, outsider.key, REVOKE, { id: grantId }),
      'FORBIDDEN',
      `Revoking grant ${grantId} requires being its grantor or holding "${scope}" on every resource with grantable: true.`,
    );
    expect(error.extensions?.required).toEqual({ scope, resource: null, grantable: true });
    const check = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }',
        { id: victim.id, scope },
      ),
    );
    expect(check.check.allowed).toBe(true);
  });

  it("should refuse to revoke a grant on a resource outside the revoker's prefix", async () => {
    const victim = await identityWithGrants(server, [{ scope: regional, resource: 'us-9' }]);

    await refused(
      () => gql(server.url, delegator.key, REVOKE, { id: victim.grants[0]?.id }),
      'FORBIDDEN',
      `holding "${regional}" on resource "us-9" with grantable: true`,
    );
  });

  it("should let a holder of the scope grantable revoke another grantor's grant", async () => {
    const victim = await identityWithGrants(server, [{ scope: regional, resource: 'eu-9' }]);

    const response = await gql(server.url, delegator.key, REVOKE, { id: victim.grants[0]?.id });

    expect(dataOf(response).revokeGrant.id).toBe(victim.grants[0]?.id);
  });

  it('should refuse revokeGrant without grants:write, even for the grantee', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);

    await refused(
      () => gql(server.url, holder.key, REVOKE, { id: holder.grants[0]?.id }),
      'FORBIDDEN',
      'Access to "Mutation.revokeGrant" requires scopes "grants:write", "grants:read".',
    );
  });

  describe('API keys', () => {
    it('should cap a key for an identity holding more at what the creator holds grantable', async () => {
      const keyMaker = await identityWithGrants(server, ['identities:write', 'identities:read']);

      const made = dataOf(
        await gql(server.url, keyMaker.key, CREATE_KEY_SCOPES, {
          input: { identityId: server.adminId, name: unique('stolen') },
        }),
      );

      // The creator delegates nothing, so the admin's key it minted can use nothing.
      expect(made.createApiKey.apiKey.scopes).toEqual([]);
      expectError(
        await gql(
          server.url,
          made.createApiKey.secret,
          '{ identities(first: 1) { nodes { id } } }',
        ),
        'FORBIDDEN',
      );
    });

    it('should cap a key for a peer at the narrower resource the creator holds grantable', async () => {
      const keyMaker = await identityWithGrants(server, [
        'identities:write',
        'identities:read',
        { scope: regional, resource: 'eu-*', grantable: true },
      ]);
      const peer = await identityWithGrants(server, [regional]);

      const made = dataOf(
        await gql(server.url, keyMaker.key, CREATE_KEY_SCOPES, {
          input: { identityId: peer.id, name: unique('peer') },
        }),
      );

      expect(made.createApiKey.apiKey.scopes).toEqual([{ scope: regional, resource: 'eu-*' }]);
      await refused(
        () =>
          gql(server.url, keyMaker.key, CREATE_KEY_SCOPES, {
            input: { identityId: peer.id, name: unique('peer'), scopes: [{ scope: regional }] },
          }),
        'FORBIDDEN',
        `you do not hold "${regional}" on every resource with grantable: true`,
      );
    });

    it('should make a key for an identity holding only what the creator holds grantable', async () => {
      const keyMaker = await identityWithGrants(server, [
        'identities:write',
        'identities:read',
        { scope: regional, resource: 'eu-*', grantable: true },
      ]);
      const peer = await identityWithGrants(server, [{ scope: regional, resource: 'eu-3' }]);

      const made = dataOf(
        await gql(server.url, keyMaker.key, CREATE_KEY, {
          input: { identityId: peer.id, name: unique('ok') },
        }),
      );

      expect(made.createApiKey.secret).toMatch(/^kh_/);
    });

    it.each([
      ['without ttlSeconds', {}],
      ['with a longer ttlSeconds', { ttlSeconds: 7200 }],
    ])(
      'should refuse a key for oneself that outlives the current key (%s) with BAD_USER_INPUT',
      async (_, ttl) => {
        const self = await identityWithGrants(server, ['identities:write', 'identities:read'], {
          keyTtlSeconds: 3600,
        });

        const { error } = await refused(
          () =>
            gql(server.url, self.key, CREATE_KEY, {
              input: { identityId: self.id, name: unique('longer'), ...ttl },
            }),
          'BAD_USER_INPUT',
          'A key you create for yourself cannot outlive the key you are using',
        );
        expect(error.extensions?.field).toBe('ttlSeconds');
      },
    );
  });

  describe('scopes and identities', () => {
    it.each([
      'identities:execute',
      'audit:write',
      'grants.extra:read',
      'scopes/sub:write',
      'keys:read',
    ])('should refuse to define %s, a reserved resource, with BAD_USER_INPUT', async (name) => {
      const root = name.split(/[.:/]/)[0];

      const { error } = await refused(
        () =>
          gql(
            server.url,
            server.adminKey,
            'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
            { input: { name } },
          ),
        'BAD_USER_INPUT',
        `Resource "${root}" is reserved for Keyholder's built-in scopes`,
      );
      expect(error.extensions?.field).toBe('name');
    });

    it('should refuse disabling oneself', async () => {
      const admin = await identityWithGrants(server, ['identities:write', 'identities:read']);

      await refused(
        () =>
          gql(server.url, admin.key, 'mutation($id: ID!) { disableIdentity(id: $id) { id } }', {
            id: admin.id,
          }),
        'BAD_USER_INPUT',
        'You cannot disable your own identity',
      );
      await refused(
        () =>
          gql(
            server.url,
            server.adminKey,
            'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
            {
              id: server.adminId.toUpperCase(),
            },
          ),
        'BAD_USER_INPUT',
        'You cannot disable your own identity',
      );
    });
  });

  it('should not let a grantee with grantable: false hand the scope on', async () => {
    const scope = await defineScope(server);
    const middle = await identityWithGrants(server, ['grants:write', 'grants:read', scope]);
    const end = await createIdentity(server);

    await refused(
      () => grantAs(middle.key, { identityId: end.id, scope }),
      'FORBIDDEN',
      `Granting "${scope}" on every resource requires holding it with grantable: true`,
    );
  });

  it('should stop a delegator from granting once its own grantable grant is revoked', async () => {
    const scope = await defineScope(server);
    const middle = await identityWithGrants(server, [
      'grants:write',
      'grants:read',
      { scope, grantable: true },
    ]);
    const end = await createIdentity(server);
    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: middle.grants[2]?.id }));

    await refused(
      () => grantAs(middle.key, { identityId: end.id, scope }),
      'FORBIDDEN',
      `Granting "${scope}" on every resource requires holding it with grantable: true`,
    );
    expect(await grant(server, end.id, { scope })).toMatchObject({ scope });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES as BUILTINS } from '../../src/modules/scopes/builtin-scopes.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

/** Every built-in scope Keyholder declares (the bootstrap admin must hold them all). */
const BUILTIN_SCOPES = BUILTINS.map((s) => s.name).sort();

describe.each(engines())('least privilege on %s', (engine) => {
  let server: TestServer;
  let newcomer: SeededPrincipal;
  let other: SeededPrincipal;
  let otherGrantId: string;
  let scope: string;

  beforeAll(async () => {
    server = await startTestServer(engine);
    scope = await defineScope(server);
    newcomer = await identityWithGrants(server, []);
    other = await identityWithGrants(server, [scope]);
    otherGrantId = other.grants[0]?.id ?? '';
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should give the bootstrap admin every built-in scope, grantable, on every resource, forever', async () => {
    const data = dataOf(
      await gql(
        server.url,
        server.adminKey,
        `{ me { name kind status grants { scope { name builtin } resource grantable expiresAt grantedBy { id } active } } }`,
      ),
    );
    const builtins = data.me.grants.filter((g: { scope: { builtin: boolean } }) => g.scope.builtin);

    expect(data.me).toMatchObject({ name: 'bootstrap-admin', kind: 'USER', status: 'ACTIVE' });
    expect(builtins.map((g: { scope: { name: string } }) => g.scope.name).sort()).toEqual(
      BUILTIN_SCOPES,
    );
    for (const g of builtins) {
      expect(g).toMatchObject({
        resource: null,
        grantable: true,
        expiresAt: null,
        grantedBy: null,
        active: true,
      });
    }
  });

  it('should give a new identity nothing at all', async () => {
    const data = dataOf(
      await gql(
        server.url,
        newcomer.key,
        '{ me { id status live: grants { id } all: grants(active: false) { id } } }',
      ),
    );

    expect(data.me).toEqual({ id: newcomer.id, status: 'ACTIVE', live: [], all: [] });
  });

  describe('a caller without scopes', () => {
    const queries: [string, string, (ctx: { otherId: string; scope: string }) => object, string][] =
      [
        ['identities', '{ identities { nodes { id } } }', () => ({}), 'identities:read'],
        [
          'identity',
          'query($id: ID!) { identity(id: $id) { id name } }',
          (c) => ({ id: c.otherId }),
          'identities:read',
        ],
        ['scopes', '{ scopes { name } }', () => ({}), 'scopes:read'],
        [
          'scope',
          'query($name: String!) { scope(name: $name) { name } }',
          (c) => ({ name: c.scope }),
          'scopes:read',
        ],
        ['grants', '{ grants { nodes { id } } }', () => ({}), 'grants:read'],
        [
          'check',
          'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }',
          (c) => ({ id: c.otherId, scope: c.scope }),
          'grants:read',
        ],
      ];

    it.each(queries)(
      'should refuse Query.%s about others with FORBIDDEN and what was required',
      async (field, query, vars, required) => {
        const response = await gql(
          server.url,
          newcomer.key,
          query,
          vars({ otherId: other.id, scope }) as Record<string, unknown>,
        );

        const error = expectError(response, 'FORBIDDEN', `Access to "Query.${field}" requires`);
        expect(error.message).toContain(`"${required}"`);
        expect(error.path).toEqual([field]);
        expect(error.extensions?.required).toMatchObject({ allOf: [required] });
        expect(response.body.data?.[field] ?? null).toBeNull();
      },
    );

    const mutations: [string, string, (ctx: Ctx) => object, string[]][] = [
      [
        'createIdentity',
        'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        () => ({ input: { name: 'should-never-exist', kind: 'USER' } }),
        ['identities:write', 'identities:read'],
      ],
      [
        'disableIdentity',
        'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
        (c) => ({ id: c.otherId }),
        ['identities:write', 'identities:read'],
      ],
      [
        'createApiKey',
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
        (c) => ({ input: { identityId: c.selfId, name: 'self-made' } }),
        ['identities:write', 'identities:read'],
      ],
      [
        'revokeApiKey',
        'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
        (c) => ({ id: c.otherKeyId }),
        ['identities:write', 'identities:read'],
      ],
      [
        'defineScope',
        'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
        () => ({ input: { name: 'never.defined:read' } }),
        ['scopes:write'],
      ],
      [
        'grant',
        'mutation($input: GrantInput!) { grant(input: $input) { id } }',
        (c) => ({ input: { identityId: c.otherId, scope: c.scope, reason: 'Escalation.' } }),
        ['grants:write', 'grants:read'],
      ],
      [
        'revokeGrant',
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Sabotage.") { id } }',
        (c) => ({ id: c.otherGrantId }),
        ['grants:write', 'grants:read'],
      ],
    ];
    type Ctx = {
      otherId: string;
      selfId: string;
      otherKeyId: string;
      otherGrantId: string;
      scope: string;
    };

    it.each(mutations)(
      'should refuse Mutation.%s with FORBIDDEN and what was required, changing nothing',
      async (field, query, vars, required) => {
        const before = await snapshot(server);
        const response = await gql(
          server.url,
          newcomer.key,
          query,
          vars({
            otherId: other.id,
            selfId: newcomer.id,
            otherKeyId: other.keyId,
            otherGrantId,
            scope,
          }) as Record<string, unknown>,
        );

        const error = expectError(
          response,
          'FORBIDDEN',
          `Access to "Mutation.${field}" requires ${required.length === 1 ? 'scope' : 'scopes'} ${required.map((r) => `"${r}"`).join(', ')}.`,
        );
        expect(error.path).toEqual([field]);
        expect(error.extensions?.required).toMatchObject({ allOf: required });
        // The field is nullable: it alone is null, and the response stands around it.
        expect(response.body.data).toEqual({ [field]: null });
        expect(await snapshot(server)).toEqual(before);
      },
    );

    it('should read its own identity, grants and API key metadata through me', async () => {
      const granted = await identityWithGrants(server, [scope]);
      const data = dataOf(
        await gql(
          server.url,
          granted.key,
          `{ me { id name kind status grants { id scope { name } grantable identity { id } }
                  apiKeys { id name prefix active revokedAt identity { id } } } }`,
        ),
      );

      expect(data.me).toMatchObject({ id: granted.id, name: granted.name, status: 'ACTIVE' });
      expect(data.me.grants).toEqual([
        {
          id: granted.grants[0]?.id,
          scope: { name: scope },
          grantable: false,
          identity: { id: granted.id },
        },
      ]);
      expect(data.me.apiKeys).toEqual([
        {
          id: granted.keyId,
          name: expect.any(String),
          prefix: granted.key.slice(0, 11),
          active: true,
          revokedAt: null,
          identity: { id: granted.id },
        },
      ]);
    });

    it('should read itself through identity(id) without identities:read', async () => {
      const data = dataOf(
        await gql(server.url, newcomer.key, 'query($id: ID!) { identity(id: $id) { id name } }', {
          id: newcomer.id,
        }),
      );

      expect(data.identity).toEqual({ id: newcomer.id, name: newcomer.name });
    });

    it('should check its own access without grants:read', async () => {
      const granted = await identityWithGrants(server, [scope]);
      const query =
        'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed reason } }';

      const mine = dataOf(await gql(server.url, granted.key, query, { id: granted.id, scope }));
      const missing = dataOf(
        await gql(server.url, granted.key, query, { id: granted.id, scope: 'grants:read' }),
      );

      expect(mine.check.allowed).toBe(true);
      expect(missing.check).toEqual({
        allowed: false,
        reason: `Identity "${granted.name}" holds no active grant of "grants:read" covering every resource.`,
      });
    });

    it('should not reach another identity through its own nested fields', async () => {
      const response = await gql(server.url, newcomer.key, '{ me { id createdBy { id name } } }');

      const error = expectError(response, 'FORBIDDEN', 'requires scope "identities:read"');
      expect(error.path?.slice(0, 2)).toEqual(['me', 'createdBy']);
      expect(response.body.data).toEqual({ me: { id: newcomer.id, createdBy: null } });
      expect(JSON.stringify(response.body)).not.toContain(server.adminId);
    });

    it("should not read another identity's grants with identities:read alone", async () => {
      const reader = await identityWithGrants(server, ['identities:read']);
      const response = await gql(
        server.url,
        reader.key,
        'query($id: ID!) { identity(id: $id) { id grants { id } } }',
        { id: other.id },
      );

      const error = expectError(response, 'FORBIDDEN', 'requires scope "grants:read"');
      expect(error.path).toEqual(['identity', 'grants']);
      // grants is nullable: only it is null, the identity stands; its grants never appear.
      expect(response.body.data).toEqual({ identity: { id: other.id, grants: null } });
      expect(JSON.stringify(response.body)).not.toContain(otherGrantId);
    });
  });

  it('should let an identity that was given a scope use it, and nothing more', async () => {
    const identity = await createIdentity(server);
    const key = await createKey(server, identity.id);
    await grant(server, identity.id, { scope: 'scopes:read' });

    const allowed = await gql(server.url, key.secret, '{ scopes { name } }');
    const denied = await gql(server.url, key.secret, '{ identities { nodes { id } } }');

    expect(dataOf(allowed).scopes.map((s: { name: string }) => s.name)).toContain(scope);
    expectError(denied, 'FORBIDDEN', 'requires scope "identities:read"');
  });
});

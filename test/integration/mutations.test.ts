import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  unique,
  uniqueScope,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TABLES = ['identities', 'api_keys', 'scopes', 'grants', 'audit_events'] as const;

describe.each(engines())('mutations on %s', (engine) => {
  let server: TestServer;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('createIdentity', () => {
    it('should create an active identity holding nothing, made by the caller', async () => {
      const name = unique('alice');
      const externalId = unique('idp');
      const data = dataOf(
        await asAdmin(
          `mutation($input: CreateIdentityInput!) { createIdentity(input: $input) {
            id name kind externalId status createdAt disabledAt createdBy { id } grants { id } apiKeys { id }
          } }`,
          { input: { name: `  ${name}  `, kind: 'USER', externalId } },
        ),
      );

      expect(data.createIdentity).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name,
        kind: 'USER',
        externalId,
        status: 'ACTIVE',
        createdAt: expect.stringMatching(ISO),
        disabledAt: null,
        createdBy: { id: server.adminId },
        grants: [],
        apiKeys: [],
      });
    });

    it('should create identities of every kind, externalId optional', async () => {
      for (const kind of ['USER', 'SERVICE', 'AGENT'] as const) {
        const identity = await createIdentity(server, { kind });
        expect(identity).toMatchObject({ kind, externalId: null });
      }
    });
  });

  describe('disableIdentity', () => {
    it('should disable an identity, and answer the same again when repeated', async () => {
      const target = await createIdentity(server);
      const query = `mutation($id: ID!) { disableIdentity(id: $id) { id status disabledAt } }`;

      const first = dataOf(await asAdmin(query, { id: target.id })).disableIdentity;
      const second = dataOf(await asAdmin(query, { id: target.id })).disableIdentity;

      expect(first).toEqual({
        id: target.id,
        status: 'DISABLED',
        disabledAt: expect.stringMatching(ISO),
      });
      expect(second).toEqual(first);
    });
  });

  describe('createApiKey', () => {
    it('should show a kh_ secret once, with its visible prefix, and store only its hash', async () => {
      const owner = await createIdentity(server);
      const data = dataOf(
        await asAdmin(
          `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            secret apiKey { id name prefix active expiresAt revokedAt lastUsedAt createdAt identity { id } }
          } }`,
          { input: { identityId: owner.id, name: 'deploy' } },
        ),
      );
      const { secret, apiKey } = data.createApiKey;

      expect(secret).toMatch(/^kh_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
      expect(apiKey).toEqual({
        id: expect.any(String),
        name: 'deploy',
        prefix: secret.slice(0, 11),
        active: true,
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: null,
        createdAt: expect.stringMatching(ISO),
        identity: { id: owner.id },
      });
      const [stored] = await server.database.query<{ secret_hash: string; prefix: string }>(
        'select secret_hash, prefix from api_keys where id = $1',
        [apiKey.id],
      );
      expect(stored).toEqual({
        secret_hash: createHash('sha256').update(secret).digest('hex'),
        prefix: apiKey.prefix,
      });
      const secretPart = secret.slice(12);
      for (const table of TABLES) {
        const rows = await server.database.query(`select * from ${table}`);
        const dump = JSON.stringify(rows);
        expect(dump, `${table} must not hold the secret`).not.toContain(secret);
        expect(dump, `${table} must not hold the secret`).not.toContain(secretPart);
      }
    });

    it('should offer no field through which a secret or its hash could be read again', async () => {
      const data = dataOf(
        await asAdmin(
          '{ apiKey: __type(name: "ApiKey") { fields { name } } identity: __type(name: "Identity") { fields { name } } }',
        ),
      );
      const names = [...data.apiKey.fields, ...data.identity.fields].map(
        (f: { name: string }) => f.name,
      );

      expect(names.filter((n: string) => /secret|hash/i.test(n))).toEqual([]);
    });

    it('should make a key that authenticates as its identity', async () => {
      const owner = await createIdentity(server);
      const key = await createKey(server, owner.id);

      const data = dataOf(await gql(server.url, key.secret, '{ me { id } }'));

      expect(data.me.id).toBe(owner.id);
    });

    it('should give a key with ttlSeconds an expiry that many seconds from now', async () => {
      const owner = await createIdentity(server);
      const before = Date.now();
      const key = await createKey(server, owner.id, { ttlSeconds: 3600 });
      const after = Date.now();

      const expiresAt = Date.parse(key.expiresAt ?? '');
      expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 1);
      expect(expiresAt).toBeLessThanOrEqual(after + 3600_000 + 1);
    });

    it('should let an identity make itself a key that ends no later than its own', async () => {
      const self = await identityWithGrants(server, ['identities:write', 'identities:read'], {
        keyTtlSeconds: 3600,
      });

      const key = await createKey(server, self.id, { ttlSeconds: 60, as: self.key });

      expect(dataOf(await gql(server.url, key.secret, '{ me { id } }')).me.id).toBe(self.id);
    });
  });

  describe('revokeApiKey', () => {
    it('should revoke a key and show it inactive', async () => {
      const owner = await identityWithGrants(server, []);
      const data = dataOf(
        await asAdmin(
          'mutation($id: ID!) { revokeApiKey(id: $id) { id active revokedAt identity { id } } }',
          { id: owner.keyId },
        ),
      );

      expect(data.revokeApiKey).toEqual({
        id: owner.keyId,
        active: false,
        revokedAt: expect.stringMatching(ISO),
        identity: { id: owner.id },
      });
      const listed = dataOf(
        await asAdmin('query($id: ID!) { identity(id: $id) { apiKeys { id active } } }', {
          id: owner.id,
        }),
      );
      expect(listed.identity.apiKeys).toEqual([{ id: owner.keyId, active: false }]);
    });

    it('should allow a new live key with the name of a revoked one', async () => {
      const owner = await createIdentity(server);
      const first = await createKey(server, owner.id, { name: 'ci' });
      dataOf(
        await asAdmin('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: first.id }),
      );

      const second = await createKey(server, owner.id, { name: 'ci' });

      expect(second.id).not.toBe(first.id);
    });
  });

  describe('defineScope', () => {
    it('should define a scope and give its definer a grantable grant of it', async () => {
      const definer = await identityWithGrants(server, [
        'scopes:write',
        'grants:read',
        'identities:read',
      ]);
      const name = uniqueScope('execute', 'deploy');
      const data = dataOf(
        await gql(
          server.url,
          definer.key,
          `mutation($input: DefineScopeInput!) { defineScope(input: $input) {
            name resource action description builtin createdAt
          } }`,
          { input: { name, description: '  Run deployments.  ' } },
        ),
      );

      expect(data.defineScope).toEqual({
        name,
        resource: name.split(':')[0],
        action: 'execute',
        description: 'Run deployments.',
        builtin: false,
        createdAt: expect.stringMatching(ISO),
      });
      const mine = dataOf(
        await gql(
          server.url,
          definer.key,
          '{ me { grants { scope { name } resource grantable expiresAt grantedBy { id } } } }',
        ),
      );
      expect(mine.me.grants).toContainEqual({
        scope: { name },
        resource: null,
        grantable: true,
        expiresAt: null,
        grantedBy: { id: definer.id },
      });
    });

    it('should not let a key minted by someone else use a scope its identity defines later', async () => {
      // The admin minted the definer's key: it acts with at most what the admin could delegate
      // then, and the admin never held the definer's new scope (docs/concepts/rules.md).
      const definer = await identityWithGrants(server, [
        'scopes:write',
        'grants:write',
        'grants:read',
      ]);
      const name = await defineScope(server, { as: definer.key });
      const grantee = await createIdentity(server);

      expectError(
        await gql(
          server.url,
          definer.key,
          'mutation($input: GrantInput!) { grant(input: $input) { id } }',
          {
            input: { identityId: grantee.id, scope: name, reason: 'Handed on.' },
          },
        ),
        'FORBIDDEN',
        `Granting "${name}" on every resource requires holding it with grantable: true`,
      );
    });
  });

  describe('grant', () => {
    const GRANT = `mutation($input: GrantInput!) { grant(input: $input) {
      id identity { id } scope { name } resource reason grantedBy { id } grantable
      createdAt expiresAt revokedAt revokedBy { id } revokeReason active
    } }`;

    it('should grant a scope on every resource, without expiry', async () => {
      const scope = await defineScope(server);
      const grantee = await createIdentity(server);

      const data = dataOf(
        await asAdmin(GRANT, {
          input: { identityId: grantee.id, scope, reason: '  On-call rotation.  ' },
        }),
      );

      expect(data.grant).toEqual({
        id: expect.any(String),
        identity: { id: grantee.id },
        scope: { name: scope },
        resource: null,
        reason: 'On-call rotation.',
        grantedBy: { id: server.adminId },
        grantable: false,
        createdAt: expect.stringMatching(ISO),
        expiresAt: null,
        revokedAt: null,
        revokedBy: null,
        revokeReason: null,
        active: true,
      });
    });

    it('should grant for ttlSeconds from now', async () => {
      const scope = await defineScope(server);
      const grantee = await createIdentity(server);
      const before = Date.now();
      const made = await grant(server, grantee.id, { scope, ttlSeconds: 900, resource: 'r-1' });
      const after = Date.now();

      const expiresAt = Date.parse(made.expiresAt ?? '');
      expect(expiresAt).toBeGreaterThanOrEqual(before + 900_000 - 1);
      expect(expiresAt).toBeLessThanOrEqual(after + 900_000 + 1);
      expect(made.resource).toBe('r-1');
    });

    it('should grant until expiresAt, grantable when asked', async () => {
      const scope = await defineScope(server);
      const grantee = await createIdentity(server);
      const until = new Date(Date.now() + 86_400_000).toISOString();

      const made = await grant(server, grantee.id, { scope, expiresAt: until, grantable: true });

      expect(made).toMatchObject({ expiresAt: until, grantable: true });
    });

    it('should let a grantable grantee grant on, down the chain', async () => {
      const scope = await defineScope(server);
      const middle = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const end = await createIdentity(server);

      const made = await grant(server, end.id, { scope, resource: 'x-*', as: middle.key });

      expect(made).toMatchObject({ scope, resource: 'x-*', grantable: false });
    });
  });

  describe('revokeGrant', () => {
    it('should revoke a grant, recording who, when and why', async () => {
      const scope = await defineScope(server);
      const grantee = await identityWithGrants(server, [scope]);
      const grantId = grantee.grants[0]?.id;

      const data = dataOf(
        await asAdmin(
          `mutation($id: ID!) { revokeGrant(id: $id, reason: "  Rotation ended.  ") {
            id active revokedAt revokedBy { id } revokeReason
          } }`,
          { id: grantId },
        ),
      );

      expect(data.revokeGrant).toEqual({
        id: grantId,
        active: false,
        revokedAt: expect.stringMatching(ISO),
        revokedBy: { id: server.adminId },
        revokeReason: 'Rotation ended.',
      });
      const mine = dataOf(
        await gql(
          server.url,
          grantee.key,
          '{ me { live: grants { id } all: grants(active: false) { id active } } }',
        ),
      );
      expect(mine.me).toEqual({ live: [], all: [{ id: grantId, active: false }] });
    });

    it('should allow granting the same scope again once the grant is revoked', async () => {
      const scope = await defineScope(server);
      const grantee = await identityWithGrants(server, [scope]);
      dataOf(
        await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Reset.") { id } }', {
          id: grantee.grants[0]?.id,
        }),
      );

      const again = await grant(server, grantee.id, { scope });

      expect(again.id).not.toBe(grantee.grants[0]?.id);
    });

    it('should let the grantor revoke its own grant', async () => {
      const scope = await defineScope(server);
      const grantor = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const grantee = await createIdentity(server);
      const made = await grant(server, grantee.id, { scope, as: grantor.key });

      const response = await gql(
        server.url,
        grantor.key,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Mine to take back.") { id active } }',
        { id: made.id },
      );

      expect(dataOf(response).revokeGrant).toEqual({ id: made.id, active: false });
    });
  });

  /**
   * A change either reaches the caller with its result, or is refused before anything is written:
   * never committed behind a FORBIDDEN answer (the caller would retry, or lose a key's secret).
   */
  describe('changes whose result the caller may not read', () => {
    async function expectAllOrNothing(
      response: GqlResponse<Record<string, unknown>>,
      field: string,
      before: Record<string, number>,
    ) {
      const written = JSON.stringify(await snapshot(server)) !== JSON.stringify(before);
      if (written) {
        expect(
          response.body.errors,
          'committed, so the caller must get the result',
        ).toBeUndefined();
        expect(response.body.data?.[field]).toEqual(expect.any(Object));
      } else {
        expectError(response, 'FORBIDDEN');
      }
    }

    it('should not commit a grant whose result a grantor without grants:read cannot see', async () => {
      const scope = await defineScope(server);
      const grantor = await identityWithGrants(server, [
        'grants:write',
        { scope, grantable: true },
      ]);
      const grantee = await createIdentity(server);
      const before = await snapshot(server);

      const response = await gql(
        server.url,
        grantor.key,
        'mutation($input: GrantInput!) { grant(input: $input) { id active } }',
        { input: { identityId: grantee.id, scope, reason: 'Handover.' } },
      );

      await expectAllOrNothing(response, 'grant', before);
    });

    it('should never create a key whose secret the caller does not receive', async () => {
      const maker = await identityWithGrants(server, ['identities:write']);
      const target = await createIdentity(server);
      const before = await snapshot(server);

      const response = await gql(
        server.url,
        maker.key,
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id prefix } } }',
        { input: { identityId: target.id, name: 'handed-over' } },
      );

      await expectAllOrNothing(response, 'createApiKey', before);
    });

    it('should not commit an identity whose id a creator without identities:read cannot see', async () => {
      const maker = await identityWithGrants(server, ['identities:write']);
      const before = await snapshot(server);

      const response = await gql(
        server.url,
        maker.key,
        'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id name } }',
        { input: { name: unique('made'), kind: 'SERVICE' } },
      );

      await expectAllOrNothing(response, 'createIdentity', before);
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES } from '../../src/modules/scopes/builtin-scopes.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

describe.each(engines())('queries on %s', (engine) => {
  let server: TestServer;
  let reader: SeededPrincipal;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  beforeAll(async () => {
    server = await startTestServer(engine);
    reader = await identityWithGrants(server, ['identities:read', 'scopes:read', 'grants:read']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('me and identity', () => {
    it('should answer me with the caller', async () => {
      const identity = await createIdentity(server, { kind: 'AGENT', externalId: unique('ext') });
      const key = await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "main" }) { secret } }',
        { id: identity.id },
      );
      const secret = dataOf(key).createApiKey.secret;

      const data = dataOf(
        await gql(
          server.url,
          secret,
          '{ me { id kind name externalId status createdAt disabledAt } }',
        ),
      );

      expect(data.me).toEqual({
        id: identity.id,
        kind: 'AGENT',
        name: identity.name,
        externalId: identity.externalId,
        status: 'ACTIVE',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        disabledAt: null,
      });
    });

    it('should answer identity(id) with the identity, its grants and its keys', async () => {
      const scope = await defineScope(server);
      const target = await identityWithGrants(server, [scope]);

      const data = dataOf(
        await gql(
          server.url,
          reader.key,
          `query($id: ID!) { identity(id: $id) {
            id name createdBy { id } grants { id scope { name } } apiKeys { id prefix active }
          } }`,
          { id: target.id },
        ),
      );

      expect(data.identity).toEqual({
        id: target.id,
        name: target.name,
        createdBy: { id: server.adminId },
        grants: [{ id: target.grants[0]?.id, scope: { name: scope } }],
        apiKeys: [{ id: target.keyId, prefix: target.key.slice(0, 11), active: true }],
      });
    });

    it('should answer identity(id) with null for an id that does not exist', async () => {
      const data = dataOf(
        await gql(server.url, reader.key, 'query($id: ID!) { identity(id: $id) { id } }', {
          id: '00000000-0000-4000-8000-000000000000',
        }),
      );

      expect(data.identity).toBeNull();
    });

    it('should accept an id in upper case', async () => {
      const data = dataOf(
        await gql(server.url, reader.key, 'query($id: ID!) { identity(id: $id) { id } }', {
          id: reader.id.toUpperCase(),
        }),
      );

      expect(data.identity).toEqual({ id: reader.id });
    });
  });

  describe('identities', () => {
    const LIST = `query($first: Int, $after: String, $filter: IdentityFilter) {
      identities(first: $first, after: $after, filter: $filter) {
        nodes { id name kind status externalId }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    type Node = { id: string; name: string; kind: string; status: string; externalId: string };

    it('should page through identities with first and after across pages without gaps or repeats', async () => {
      const tag = unique('pages');
      const created: string[] = [];
      for (let i = 0; i < 8; i += 1) {
        created.push((await createIdentity(server, { name: `${tag}-${i}` })).id);
      }

      const pages: Page<Node>[] = [];
      let after: string | null = null;
      do {
        const page: Page<Node> = dataOf(
          await gql(server.url, reader.key, LIST, {
            first: 3,
            after,
            filter: { nameContains: tag },
          }),
        ).identities;
        pages.push(page);
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      } while (after !== null && pages.length < 10);

      expect(pages.map((p) => p.nodes.length)).toEqual([3, 3, 2]);
      expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
      expect(pages.flatMap((p) => p.nodes.map((n) => n.id))).toEqual(created);
      expect(pages.every((p) => typeof p.pageInfo.endCursor === 'string')).toBe(true);
    });

    it('should list every identity by default, the admin first', async () => {
      const data = dataOf(await gql(server.url, reader.key, LIST, { first: 500 }));

      expect(data.identities.nodes[0]).toMatchObject({
        id: server.adminId,
        name: 'bootstrap-admin',
      });
      expect(data.identities.nodes.map((n: Node) => n.id)).toContain(reader.id);
    });

    it('should filter by kind, status, nameContains and externalId', async () => {
      const tag = unique('filter');
      const agent = await createIdentity(server, { name: `${tag}-agent`, kind: 'AGENT' });
      const user = await createIdentity(server, {
        name: `${tag}-USER`,
        kind: 'USER',
        externalId: `${tag}-ext`,
      });
      const gone = await createIdentity(server, { name: `${tag}-gone`, kind: 'SERVICE' });
      dataOf(
        await asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: gone.id }),
      );
      const ids = async (filter: Record<string, unknown>) =>
        dataOf(await gql(server.url, reader.key, LIST, { filter })).identities.nodes.map(
          (n: Node) => n.id,
        );

      expect(await ids({ nameContains: tag })).toEqual([agent.id, user.id, gone.id]);
      expect(await ids({ nameContains: tag, kind: 'AGENT' })).toEqual([agent.id]);
      expect(await ids({ nameContains: tag, kind: 'USER' })).toEqual([user.id]);
      expect(await ids({ nameContains: tag, status: 'DISABLED' })).toEqual([gone.id]);
      expect(await ids({ nameContains: tag, status: 'ACTIVE' })).toEqual([agent.id, user.id]);
      expect(await ids({ externalId: `${tag}-ext` })).toEqual([user.id]);
      expect(await ids({ nameContains: `${tag}-user`.toUpperCase() })).toEqual([user.id]);
    });

    it('should treat % and _ in nameContains as plain characters', async () => {
      const tag = unique('literal');
      const plain = await createIdentity(server, { name: `${tag}-ab` });
      const percent = await createIdentity(server, { name: `${tag}-a%b` });
      const ids = async (nameContains: string) =>
        dataOf(
          await gql(server.url, reader.key, LIST, { filter: { nameContains } }),
        ).identities.nodes.map((n: Node) => n.id);

      expect(await ids(`${tag}-a%b`)).toEqual([percent.id]);
      expect(await ids(`${tag}-a_`)).toEqual([]);
      expect(await ids(`${tag}-ab`)).toEqual([plain.id]);
    });
  });

  describe('scope and scopes', () => {
    it('should answer scope(name) for a built-in scope', async () => {
      const data = dataOf(
        await gql(
          server.url,
          reader.key,
          '{ scope(name: "grants:write") { name resource action builtin description } }',
        ),
      );

      expect(data.scope).toEqual({
        name: 'grants:write',
        resource: 'grants',
        action: 'write',
        builtin: true,
        description: expect.stringContaining('Grant'),
      });
    });

    it('should answer scope(name) for a defined scope and null for an unknown one', async () => {
      const name = await defineScope(server, { description: 'Read the orders.' });
      const query =
        'query($name: String!) { scope(name: $name) { name action builtin description } }';

      const defined = dataOf(await gql(server.url, reader.key, query, { name }));
      const unknown = dataOf(await gql(server.url, reader.key, query, { name: 'nope.x:read' }));

      expect(defined.scope).toEqual({
        name,
        action: 'read',
        builtin: false,
        description: 'Read the orders.',
      });
      expect(unknown.scope).toBeNull();
    });

    it('should list every scope by name, built-in ones included', async () => {
      const name = await defineScope(server);
      const data = dataOf(await gql(server.url, reader.key, '{ scopes { name builtin } }'));
      const names = data.scopes.map((s: { name: string }) => s.name);

      expect(names).toEqual([...names].sort());
      expect(names).toEqual(expect.arrayContaining([...BUILTIN_SCOPES.map((s) => s.name), name]));
      expect(data.scopes.filter((s: { builtin: boolean }) => s.builtin)).toHaveLength(
        BUILTIN_SCOPES.length,
      );
    });
  });

  describe('grants', () => {
    const LIST = `query($first: Int, $after: String, $filter: GrantFilter) {
      grants(first: $first, after: $after, filter: $filter) {
        nodes { id scope { name } resource active identity { id } grantedBy { id } }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    type Node = { id: string; scope: { name: string }; resource: string | null; active: boolean };

    it('should page through grants with first and after across pages', async () => {
      const holder = await createIdentity(server);
      const created: string[] = [];
      for (let i = 0; i < 7; i += 1) {
        const scope = await defineScope(server);
        created.push((await grant(server, holder.id, { scope })).id);
      }

      const pages: Page<Node>[] = [];
      let after: string | null = null;
      do {
        const page: Page<Node> = dataOf(
          await gql(server.url, reader.key, LIST, {
            first: 3,
            after,
            filter: { identityId: holder.id },
          }),
        ).grants;
        pages.push(page);
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      } while (after !== null && pages.length < 10);

      expect(pages.map((p) => p.nodes.length)).toEqual([3, 3, 1]);
      expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
      expect(pages.flatMap((p) => p.nodes.map((n) => n.id))).toEqual(created);
    });

    it('should filter grants by identity, scope, resource, grantor and active', async () => {
      const scope = await defineScope(server);
      const holder = await createIdentity(server);
      const granter = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const everywhere = await grant(server, holder.id, { scope });
      const onOne = await grant(server, holder.id, { scope, resource: 'r-1', as: granter.key });
      const revoked = await grant(server, holder.id, { scope: 'identities:read' });
      dataOf(
        await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }', {
          id: revoked.id,
        }),
      );
      const ids = async (filter: Record<string, unknown>) =>
        dataOf(await gql(server.url, reader.key, LIST, { filter })).grants.nodes.map(
          (n: Node) => n.id,
        );

      expect(await ids({ identityId: holder.id })).toEqual([everywhere.id, onOne.id, revoked.id]);
      expect(await ids({ identityId: holder.id, active: true })).toEqual([everywhere.id, onOne.id]);
      expect(await ids({ identityId: holder.id, active: false })).toEqual([revoked.id]);
      // The admin's own grant from defining the scope comes first.
      expect((await ids({ scope })).slice(1)).toEqual([
        granter.grants[2]?.id,
        everywhere.id,
        onOne.id,
      ]);
      expect(await ids({ scope, resource: 'r-1' })).toEqual([onOne.id]);
      expect(await ids({ identityId: holder.id, grantedBy: granter.id })).toEqual([onOne.id]);
    });
  });

  describe('check', () => {
    const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
      check(identityId: $id, scope: $scope, resource: $resource) {
        allowed reason identityId scope resource decidedAt grant { id scope { name } resource }
      }
    }`;
    const check = async (id: string, scope: string, resource?: string) =>
      dataOf(
        await gql(server.url, reader.key, CHECK, {
          id,
          scope,
          ...(resource === undefined ? {} : { resource }),
        }),
      ).check;

    it('should allow with the grant and a reason naming it', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const grantId = holder.grants[0]?.id;

      const decision = await check(holder.id, scope);

      expect(decision).toEqual({
        allowed: true,
        reason: `Allowed by grant ${grantId} of "${scope}" on every resource.`,
        identityId: holder.id,
        scope,
        resource: null,
        decidedAt: expect.any(String),
        grant: { id: grantId, scope: { name: scope }, resource: null },
      });
    });

    it('should deny with a reason naming the identity and the scope', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, []);

      const decision = await check(holder.id, scope);

      expect(decision).toMatchObject({ allowed: false, grant: null });
      expect(decision.reason).toBe(
        `Identity "${holder.name}" holds no active grant of "${scope}" covering every resource.`,
      );
    });

    it('should allow on exactly the resource an exact grant names', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, resource: 'order-1' }]);

      const same = await check(holder.id, scope, 'order-1');
      const other = await check(holder.id, scope, 'order-10');
      const every = await check(holder.id, scope);

      expect(same).toMatchObject({ allowed: true, resource: 'order-1' });
      expect(same.grant).toMatchObject({ id: holder.grants[0]?.id, resource: 'order-1' });
      expect(other).toMatchObject({ allowed: false, grant: null });
      expect(other.reason).toContain('covering resource "order-10"');
      expect(every).toMatchObject({ allowed: false, grant: null });
    });

    it('should allow every resource under a prefix* grant and nothing else', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, resource: 'eu-*' }]);

      const inside = await check(holder.id, scope, 'eu-42');
      const outside = await check(holder.id, scope, 'us-42');

      expect(inside).toMatchObject({ allowed: true, grant: { resource: 'eu-*' } });
      expect(inside.reason).toContain('resources starting with "eu-"');
      expect(outside).toMatchObject({ allowed: false, grant: null });
    });

    it('should allow any resource under a grant without resource', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);

      expect(await check(holder.id, scope, 'anything-at-all')).toMatchObject({ allowed: true });
    });

    it('should not imply one action from another', async () => {
      const resource = unique('shop').replace('-', '.');
      const read = await defineScope(server, { name: `${resource}:read` });
      const write = await defineScope(server, { name: `${resource}:write` });
      const holder = await identityWithGrants(server, [write]);

      expect(await check(holder.id, read)).toMatchObject({ allowed: false });
    });

    it('should deny a disabled identity whatever it holds', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      dataOf(
        await asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: holder.id }),
      );

      const decision = await check(holder.id, scope);

      expect(decision).toMatchObject({ allowed: false, grant: null });
      expect(decision.reason).toBe(`Identity "${holder.name}" is disabled.`);
    });

    it('should answer NOT_FOUND for an unknown identity or an undefined scope', async () => {
      const unknownIdentity = await gql(server.url, reader.key, CHECK, {
        id: '00000000-0000-4000-8000-000000000000',
        scope: 'grants:read',
      });
      const undefinedScope = await gql(server.url, reader.key, CHECK, {
        id: reader.id,
        scope: 'nothing.here:read',
      });

      expectError(
        unknownIdentity,
        'NOT_FOUND',
        'Identity 00000000-0000-4000-8000-000000000000 does not exist.',
      );
      expectError(undefinedScope, 'NOT_FOUND', 'Scope "nothing.here:read" is not defined.');
    });
  });
});

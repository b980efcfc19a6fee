import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  sleep,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { disableIdentity, revokeGrant } from '../subscriptions/revoke.js';

const CREATE = `mutation($input: CreateIdentityInput!) {
  createIdentity(input: $input) { id kind owner { id } }
}`;
const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) { allowed reason grant { id } }
}`;
const EFFECTIVE = `query($id: ID!) {
  effectivePermissions(identityId: $id) { scope resource expiresAt grants { id } }
}`;
const WHO_CAN = `query($scope: String!, $resource: String) {
  whoCan(scope: $scope, resource: $resource) { nodes { identity { id } } }
}`;
const REVOKE_OWNED = `mutation($reason: String!, $id: ID) {
  revokeOwnedAccess(reason: $reason, identityId: $id) { identityIds grantIds apiKeyIds }
}`;

interface Decision {
  allowed: boolean;
  reason: string;
  grant: { id: string } | null;
}

describe.each(engines())('owned identities and AI agents on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const check = async (id: string, scope: string, resource?: string, as = server.adminKey) =>
    dataOf(await gql<{ check: Decision }>(server.url, as, CHECK, { id, scope, resource })).check;

  /** A USER owner holding `scope` (on `ownerResource`) and an agent it owns holding it everywhere. */
  async function ownerAndAgent(ownerResource?: string) {
    const scope = await defineScope(server);
    const owner = await identityWithGrants(
      server,
      [ownerResource === undefined ? { scope } : { scope, resource: ownerResource }],
      { kind: 'USER' },
    );
    const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
    const agentKey = await createKey(server, agent.id);
    const agentGrant = await grant(server, agent.id, { scope });
    return { scope, owner, agent, agentKey: agentKey.secret, agentGrant };
  }

  describe('who owns what', () => {
    it('should make the caller the owner of a SERVICE or AGENT created without ownerId, and give users none', async () => {
      for (const kind of ['SERVICE', 'AGENT'] as const) {
        const created = dataOf(
          await gql<{ createIdentity: { owner: { id: string } | null } }>(
            server.url,
            server.adminKey,
            CREATE,
            { input: { name: `owned-${kind}-${engine}`, kind } },
          ),
        ).createIdentity;
        expect(created.owner?.id).toBe(server.adminId);
      }
      const user = dataOf(
        await gql<{ createIdentity: { owner: unknown } }>(server.url, server.adminKey, CREATE, {
          input: { name: `unowned-user-${engine}`, kind: 'USER' },
        }),
      ).createIdentity;
      expect(user.owner).toBeNull();
    });

    it('should list what an identity owns', async () => {
      const { owner, agent } = await ownerAndAgent();
      const data = dataOf(
        await gql<{ identity: { ownedIdentities: { id: string }[] } }>(
          server.url,
          server.adminKey,
          'query($id: ID!) { identity(id: $id) { ownedIdentities { id } } }',
          { id: owner.id },
        ),
      );
      expect(data.identity.ownedIdentities.map((i) => i.id)).toEqual([agent.id]);
    });

    it('should refuse an owner for a user, an agent as owner, a disabled owner and an unknown one, creating nothing', async () => {
      const before = await snapshot(server);
      const agent = await createIdentity(server, { kind: 'AGENT' });
      const disabled = await createIdentity(server, { kind: 'USER' });
      await disableIdentity(server, disabled.id);
      const afterSeeding = await snapshot(server);
      expect(afterSeeding.identities).toBe((before.identities ?? 0) + 2);

      const create = (input: Record<string, unknown>) =>
        gql(server.url, server.adminKey, CREATE, {
          input: { name: `refused-${Math.random()}`, ...input },
        });
      expectError(
        await create({ kind: 'USER', ownerId: server.adminId }),
        'BAD_USER_INPUT',
        'A USER identity has no owner',
      );
      expectError(
        await create({ kind: 'AGENT', ownerId: agent.id }),
        'BAD_USER_INPUT',
        'agents cannot own identities',
      );
      expectError(
        await create({ kind: 'SERVICE', ownerId: disabled.id }),
        'BAD_USER_INPUT',
        'is disabled and cannot own identities',
      );
      expectError(
        await create({ kind: 'AGENT', ownerId: '00000000-0000-4000-8000-000000000000' }),
        'NOT_FOUND',
        'Owner 00000000-0000-4000-8000-000000000000 does not exist.',
      );
      expectError(await create({ kind: 'AGENT', ownerId: 'nope' }), 'BAD_USER_INPUT');
      expect(await snapshot(server)).toEqual(afterSeeding);
    });
  });

  describe('an agent never exceeds its owner', () => {
    it('should stop an agent grant authorizing the instant its owner loses the scope, and say why', async () => {
      const { scope, owner, agent, agentKey, agentGrant } = await ownerAndAgent();
      expect(await check(agent.id, scope, 'x', agentKey)).toMatchObject({
        allowed: true,
        grant: { id: agentGrant.id },
      });

      const ownerGrant = owner.grants[0];
      if (ownerGrant === undefined) throw new Error('The owner was seeded with a grant.');
      await revokeGrant(server, ownerGrant.id);

      const decision = await check(agent.id, scope, 'x');
      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain(`holds grant ${agentGrant.id}`);
      expect(decision.reason).toContain(`its owner "${owner.name}" cannot use "${scope}"`);
      expect(
        dataOf(
          await gql<{ effectivePermissions: unknown[] }>(server.url, server.adminKey, EFFECTIVE, {
            id: agent.id,
          }),
        ).effectivePermissions,
      ).toEqual([]);
      const holders = dataOf(
        await gql<{ whoCan: { nodes: { identity: { id: string } }[] } }>(
          server.url,
          server.adminKey,
          WHO_CAN,
          {
            scope,
          },
        ),
      ).whoCan.nodes.map((h) => h.identity.id);
      expect(holders).not.toContain(agent.id);
    });

    it('should narrow an agent to the resources its owner covers', async () => {
      const { scope, agent, agentGrant } = await ownerAndAgent('eu-*');
      expect(await check(agent.id, scope, 'eu-1')).toMatchObject({ allowed: true });
      expect(await check(agent.id, scope, 'us-1')).toMatchObject({ allowed: false });
      const permissions = dataOf(
        await gql<{
          effectivePermissions: { scope: string; resource: string; grants: { id: string }[] }[];
        }>(server.url, server.adminKey, EFFECTIVE, { id: agent.id }),
      ).effectivePermissions;
      expect(permissions).toEqual([
        { scope, resource: 'eu-*', expiresAt: null, grants: [{ id: agentGrant.id }] },
      ]);
      const holders = async (resource: string) =>
        dataOf(
          await gql<{ whoCan: { nodes: { identity: { id: string } }[] } }>(
            server.url,
            server.adminKey,
            WHO_CAN,
            {
              scope,
              resource,
            },
          ),
        ).whoCan.nodes.map((h) => h.identity.id);
      expect(await holders('eu-1')).toContain(agent.id);
      expect(await holders('us-1')).not.toContain(agent.id);
    });

    it('should deny an agent whose owner is disabled, saying so', async () => {
      const { scope, owner, agent, agentKey } = await ownerAndAgent();
      await disableIdentity(server, owner.id);
      const decision = await check(agent.id, scope, undefined, agentKey);
      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain(`its owner "${owner.name}" is disabled`);
    });

    it("should stop an agent grant at the instant its owner's grant expires", async () => {
      const scope = await defineScope(server);
      const owner = await identityWithGrants(server, [{ scope, ttlSeconds: 1 }], { kind: 'USER' });
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      await grant(server, agent.id, { scope });
      const permissions = dataOf(
        await gql<{ effectivePermissions: { expiresAt: string | null }[] }>(
          server.url,
          server.adminKey,
          EFFECTIVE,
          { id: agent.id },
        ),
      ).effectivePermissions;
      // The agent's own grant never expires; what it can use ends with its owner's.
      expect(permissions[0]?.expiresAt).toBe(owner.grants[0]?.expiresAt);
      const expiresAt = Date.parse(owner.grants[0]?.expiresAt ?? '');
      await sleep(Math.max(0, expiresAt - Date.now()) + 50);
      expect(await check(agent.id, scope)).toMatchObject({ allowed: false });
    });

    it("should enforce the cap on the agent's own requests through @requires", async () => {
      const owner = await identityWithGrants(server, ['identities:read'], { kind: 'USER' });
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      const key = await createKey(server, agent.id);
      await grant(server, agent.id, { scope: 'identities:read' });
      const list = () =>
        gql(server.url, key.secret, 'query { identities(first: 1) { nodes { id } } }');
      expect((await list()).body.errors).toBeUndefined();

      const ownerGrant = owner.grants[0];
      if (ownerGrant === undefined) throw new Error('The owner was seeded with a grant.');
      await revokeGrant(server, ownerGrant.id);
      expectError(await list(), 'FORBIDDEN', 'identities:read');
    });

    it('should not let an agent hand out a scope its owner may not grant', async () => {
      const scope = await defineScope(server);
      const owner = await identityWithGrants(server, [{ scope }, 'grants:read', 'grants:write'], {
        kind: 'USER',
      });
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      const key = await createKey(server, agent.id);
      for (const s of [scope, 'grants:read', 'grants:write']) {
        await grant(server, agent.id, { scope: s, grantable: true });
      }
      const other = await createIdentity(server, { kind: 'USER' });
      const response = await gql(
        server.url,
        key.secret,
        'mutation($input: GrantInput!) { grant(input: $input) { id } }',
        { input: { identityId: other.id, scope, reason: 'Agent delegating.' } },
      );
      expectError(response, 'FORBIDDEN', scope);
    });
  });

  describe('revokeOwnedAccess', () => {
    let owner: SeededPrincipal;

    beforeAll(async () => {
      owner = await identityWithGrants(server, [], { kind: 'USER' });
    });

    it("should revoke every grant and key of the owner's agents in one call, whoever granted them", async () => {
      const scope = await defineScope(server);
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      const service = await createIdentity(server, { kind: 'SERVICE', ownerId: owner.id });
      const agentKey = await createKey(server, agent.id);
      const agentGrant = await grant(server, agent.id, { scope });
      const serviceGrant = await grant(server, service.id, { scope });

      const revoked = dataOf(
        await gql<{
          revokeOwnedAccess: { identityIds: string[]; grantIds: string[]; apiKeyIds: string[] };
        }>(server.url, owner.key, REVOKE_OWNED, { reason: 'Agent misbehaved.' }),
      ).revokeOwnedAccess;

      expect(revoked.identityIds).toEqual([agent.id, service.id]);
      expect(revoked.grantIds.sort()).toEqual([agentGrant.id, serviceGrant.id].sort());
      expect(revoked.apiKeyIds).toEqual([agentKey.id]);
      expectUnauthenticated(
        await gql(server.url, agentKey.secret, 'query { me { id } }'),
        /revoked/,
      );
      const events = dataOf(
        await gql<{ auditEvents: { nodes: { action: string; actor: { id: string } | null }[] } }>(
          server.url,
          server.adminKey,
          `query($s: String!) { auditEvents(first: 10, filter: { subjectId: $s }) { nodes { action actor { id } } } }`,
          { s: agentGrant.id },
        ),
      ).auditEvents.nodes;
      expect(events.map((e) => e.action)).toContain('grant.revoked');
    });

    it('should act on one owned identity when named, and refuse one the caller does not own', async () => {
      const mine = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      const kept = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      const scope = await defineScope(server);
      await grant(server, mine.id, { scope });
      const keptGrant = await grant(server, kept.id, { scope });
      const notMine = await createIdentity(server, { kind: 'AGENT' });

      const revoked = dataOf(
        await gql<{ revokeOwnedAccess: { identityIds: string[] } }>(
          server.url,
          owner.key,
          REVOKE_OWNED,
          { reason: 'Just this one.', id: mine.id },
        ),
      ).revokeOwnedAccess;
      expect(revoked.identityIds).toEqual([mine.id]);
      const keptGrants = dataOf(
        await gql<{ identity: { grants: { id: string }[] } }>(
          server.url,
          server.adminKey,
          'query($id: ID!) { identity(id: $id) { grants { id } } }',
          { id: kept.id },
        ),
      ).identity.grants;
      expect(keptGrants).toEqual([{ id: keptGrant.id }]);

      const before = await snapshot(server);
      expectError(
        await gql(server.url, owner.key, REVOKE_OWNED, { reason: 'Not mine.', id: notMine.id }),
        'NOT_FOUND',
        `You own no identity ${notMine.id}.`,
      );
      expectError(
        await gql(server.url, owner.key, REVOKE_OWNED, { reason: '  ' }),
        'BAD_USER_INPUT',
      );
      expect(await snapshot(server)).toEqual(before);
    });
  });
});

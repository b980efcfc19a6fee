import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants, unique } from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const REQUEST = `mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id status } }`;
const APPROVE = 'mutation($id: ID!) { approveAccessRequest(id: $id) { status } }';
const SET_ATTRIBUTES = `mutation($id: ID!, $attributes: JSON!) {
  setIdentityAttributes(id: $id, attributes: $attributes) { id attributes }
}`;
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name }
}`;
const CREATE = `mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id owner { id } } }`;
const DISABLE = 'mutation($id: ID!) { disableIdentity(id: $id) { status } }';

// Issue 20.8: hostile testing found owned identities used as a collusion channel, attributes that
// grant themselves, and side doors to a lockout. Each case is refused with a sentence, changing
// nothing; what remains allowed is shown beside it.
describe.each(engines())('collusion and side doors on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('ownership is one party', () => {
    it("should refuse an owner approving its own service's access request, and let someone else", async () => {
      const scope = await defineScope(server);
      const owner = await identityWithGrants(server, [
        'identities:write',
        'identities:read',
        { scope, grantable: true },
        'grants:write',
        'grants:read',
      ]);
      const service = dataOf(
        await gql(server.url, owner.key, CREATE, {
          input: { name: unique('svc'), kind: 'SERVICE' },
        }),
      ).createIdentity as { id: string; owner: { id: string } };
      expect(service.owner).toEqual({ id: owner.id });
      const serviceKey = dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "k" }) { secret } }',
          { id: service.id },
        ),
      ).createApiKey as { secret: string };
      const request = dataOf(
        await gql(server.url, serviceKey.secret, REQUEST, {
          input: { scope, ttlSeconds: 600, reason: 'Nightly export.' },
        }),
      ).requestAccess as { id: string };
      const before = await snapshot(server);

      expectError(
        await gql(server.url, owner.key, APPROVE, { id: request.id }),
        'FORBIDDEN',
        'one party',
      );
      expect(await snapshot(server)).toEqual(before);
      expect(
        dataOf(await gql(server.url, server.adminKey, APPROVE, { id: request.id }))
          .approveAccessRequest,
      ).toEqual({ status: 'APPROVED' });
    });

    it('should refuse naming as owner someone holding more than the caller could grant', async () => {
      const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const nobody = await identityWithGrants(server, []);

      expectError(
        await gql(server.url, writer.key, CREATE, {
          input: { name: unique('agent'), kind: 'AGENT', ownerId: server.adminId },
        }),
        'FORBIDDEN',
        'ask "bootstrap-admin" to create it',
      );
      const owned = dataOf(
        await gql(server.url, writer.key, CREATE, {
          input: { name: unique('agent'), kind: 'AGENT', ownerId: nobody.id },
        }),
      ).createIdentity as { owner: { id: string } | null };
      expect(owned.owner).toEqual({ id: nobody.id });
    });
  });

  describe('agents cannot launder what their owner loses', () => {
    it('should let an agent create only agents, owned by its owner', async () => {
      const owner = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const agent = await identityWithGrants(server, ['identities:write', 'identities:read'], {
        kind: 'AGENT',
        ownerId: owner.id,
      });
      const before = await snapshot(server);

      for (const kind of ['SERVICE', 'USER']) {
        expectError(
          await gql(server.url, agent.key, CREATE, { input: { name: unique('made'), kind } }),
          'FORBIDDEN',
          'An agent creates only agents',
        );
      }
      expect(await snapshot(server)).toEqual(before);
      const made = dataOf(
        await gql(server.url, agent.key, CREATE, { input: { name: unique('sub'), kind: 'AGENT' } }),
      ).createIdentity as { owner: { id: string } | null };
      expect(made.owner).toEqual({ id: owner.id });
    });
  });

  describe('attributes are authority', () => {
    /** A scope whose auto-approval reads the requester's attributes, set by the admin. */
    async function attributeApproved(): Promise<string> {
      const scope = await defineScope(server);
      dataOf(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope,
          input: { autoApprove: 'requester.attributes.team == "payroll"' },
        }),
      );
      return scope;
    }

    it('should let anyone holding identities:write set attributes nothing reads (before any condition reads them)', async () => {
      const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const target = await identityWithGrants(server, []);

      const set = dataOf(
        await gql(server.url, writer.key, SET_ATTRIBUTES, {
          id: target.id,
          attributes: { costCentre: 'R&D' },
        }),
      );

      expect(set.setIdentityAttributes).toEqual({
        id: target.id,
        attributes: { costCentre: 'R&D' },
      });
    });

    it('should refuse setting your own attributes', async () => {
      const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);

      expectError(
        await gql(server.url, writer.key, SET_ATTRIBUTES, {
          id: writer.id,
          attributes: { team: 'payroll' },
        }),
        'FORBIDDEN',
        'Nobody sets their own attributes',
      );
    });

    it('should refuse setting attributes an auto-approval reads without authority over its scope', async () => {
      const scope = await attributeApproved();
      const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const target = await identityWithGrants(server, []);
      const before = await snapshot(server);

      expectError(
        await gql(server.url, writer.key, SET_ATTRIBUTES, {
          id: target.id,
          attributes: { team: 'payroll' },
        }),
        'FORBIDDEN',
        `"${scope}"`,
      );
      expectError(
        await gql(server.url, writer.key, CREATE, {
          input: { name: unique('svc'), kind: 'SERVICE', attributes: { team: 'payroll' } },
        }),
        'FORBIDDEN',
        `"${scope}"`,
      );
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse setting attributes a held grant condition reads, and mark allowed changes sensitive', async () => {
      const scope = await defineScope(server);
      const target = await identityWithGrants(server, [
        { scope, condition: 'identity.attributes.clearance >= 3' },
      ]);
      const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);

      expectError(
        await gql(server.url, writer.key, SET_ATTRIBUTES, {
          id: target.id,
          attributes: { clearance: 5 },
        }),
        'FORBIDDEN',
        `"${scope}"`,
      );
      dataOf(
        await gql(server.url, server.adminKey, SET_ATTRIBUTES, {
          id: target.id,
          attributes: { clearance: 5 },
        }),
      );
      const [event] = await server.database.query<{ details: Record<string, unknown> }>(
        `select details from audit_events where action = 'identity.attributes_changed' and subject_id = $1`,
        [target.id],
      );
      expect(event?.details).toMatchObject({
        sensitive: true,
        after: { attributes: { clearance: 5 } },
      });
    });
  });

  describe('conditions carried by delegation (issue 21.7)', () => {
    const GRANT = 'mutation($input: GrantInput!) { grant(input: $input) { id condition } }';
    const payroll = 'identity.attributes.team == "payroll"';

    /** A delegator holding a new scope grantable only under `condition`, and a payroll member. */
    async function delegatorUnder(condition: string) {
      const scope = await defineScope(server);
      const delegator = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true, condition },
      ]);
      const member = await identityWithGrants(server, []);
      dataOf(
        await gql(server.url, server.adminKey, SET_ATTRIBUTES, {
          id: member.id,
          attributes: { team: 'payroll' },
        }),
      );
      const handOn = () =>
        gql(server.url, delegator.key, GRANT, {
          input: { identityId: member.id, scope, condition: `(${condition})`, reason: 'Cover.' },
        });
      return { scope, delegator, member, handOn };
    }

    it('should refuse handing on a condition that reads the holder while it does not hold for the delegator', async () => {
      const { handOn } = await delegatorUnder(payroll);
      const before = await snapshot(server);

      expectError(await handOn(), 'FORBIDDEN', 'does not hold for you now');
      expect(await snapshot(server)).toEqual(before);
    });

    it('should allow it once the condition holds for the delegator', async () => {
      const { delegator, handOn } = await delegatorUnder(payroll);
      dataOf(
        await gql(server.url, server.adminKey, SET_ATTRIBUTES, {
          id: delegator.id,
          attributes: { team: 'payroll' },
        }),
      );

      expect(dataOf(await handOn()).grant).toMatchObject({ condition: `(${payroll})` });
    });

    it('should hand on a condition that reads only the request whether or not it holds now', async () => {
      const { handOn } = await delegatorUnder('request.hour == 99');

      expect(dataOf(await handOn()).grant).toMatchObject({ condition: '(request.hour == 99)' });
    });
  });

  describe('no lockout through the side doors', () => {
    it('should refuse a policy condition on scopes:write', async () => {
      expectError(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope: 'scopes:write',
          input: { condition: 'request.hour == 99' },
        }),
        'CONFLICT',
        'put the condition on the grants of "scopes:write" instead',
      );
    });

    it('should not count a root holder whose grant is about to expire', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, grantable: true }]);
      await identityWithGrants(server, [{ scope, grantable: true, ttlSeconds: 3600 }]);
      const [adminRoot] = (
        dataOf(
          await gql(
            server.url,
            server.adminKey,
            'query($s: String!) { grants(first: 10, filter: { scope: $s }) { nodes { id identity { id } } } }',
            { s: scope },
          ),
        ).grants as { nodes: { id: string; identity: { id: string } }[] }
      ).nodes.filter((g) => g.identity.id === server.adminId);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Handed over.") { id } }',
          { id: adminRoot?.id },
        ),
      );

      // The permanent holder is the last root holder: the one expiring in an hour does not count.
      expectError(
        await gql(server.url, server.adminKey, DISABLE, { id: holder.id }),
        'CONFLICT',
        `"${scope}"`,
      );
    });
  });
});

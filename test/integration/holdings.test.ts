import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES } from '../../src/modules/scopes/builtin-scopes.js';
import { engines } from '../fixtures/engines.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  identityWithGrants,
  sleep,
} from '../fixtures/seed.js';
import { countRows, snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const WHO_CAN = `query($scope: String!, $resource: String) {
  whoCan(scope: $scope, resource: $resource) { nodes { identityId grant { id resource } } }
}`;
const EFFECTIVE = `query($id: ID!) {
  effectivePermissions(identityId: $id) { scope resource expiresAt grantable grants { id } }
}`;
const REVOKE_ALL = `mutation($id: ID!, $reason: String!) {
  revokeAllGrants(identityId: $id, reason: $reason) {
    identity { id } grants { id active revokeReason } apiKeys { id revokedAt }
  }
}`;

interface HolderNode {
  identityId: string;
  grant: { id: string; resource: string | null };
}

interface Holder {
  id: string;
  resource: string | null;
  identity: { id: string };
}

describe.each(engines())('who holds the keys on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const whoCan = async (scope: string, resource?: string): Promise<Holder[]> =>
    dataOf(
      await gql<{ whoCan: { nodes: HolderNode[] } }>(server.url, server.adminKey, WHO_CAN, {
        scope,
        resource,
      }),
    ).whoCan.nodes.map((n) => ({ ...n.grant, identity: { id: n.identityId } }));

  describe('whoCan', () => {
    it('should list the grants that cover a resource: every-resource, exact and prefix, and nothing else', async () => {
      const scope = await defineScope(server);
      const everywhere = await identityWithGrants(server, [{ scope }]);
      const exact = await identityWithGrants(server, [{ scope, resource: 'eu-1' }]);
      const prefix = await identityWithGrants(server, [{ scope, resource: 'eu-*' }]);
      const elsewhere = await identityWithGrants(server, [{ scope, resource: 'us-1' }]);

      const holders = await whoCan(scope, 'eu-1');

      const ids = holders.map((h) => h.identity.id);
      expect(ids).toContain(everywhere.id);
      expect(ids).toContain(exact.id);
      expect(ids).toContain(prefix.id);
      expect(ids).not.toContain(elsewhere.id);
    });

    it('should answer a question about every resource with grants that cover every resource only', async () => {
      const scope = await defineScope(server);
      const everywhere = await identityWithGrants(server, [{ scope }]);
      await identityWithGrants(server, [{ scope, resource: 'eu-*' }]);

      const holders = await whoCan(scope);

      // The admin defined the scope, so it holds it too.
      expect(holders.map((h) => h.identity.id).sort()).toEqual(
        [server.adminId, everywhere.id].sort(),
      );
    });

    it('should leave out revoked and expired grants and disabled identities', async () => {
      const scope = await defineScope(server);
      const revoked = await identityWithGrants(server, [{ scope }]);
      const expiring = await identityWithGrants(server, [{ scope, ttlSeconds: 1 }]);
      const disabled = await identityWithGrants(server, [{ scope }]);
      const kept = await identityWithGrants(server, [{ scope }]);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "x") { id } }',
          {
            id: revoked.grants[0]?.id,
          },
        ),
      );
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
          {
            id: disabled.id,
          },
        ),
      );
      await sleep(1100);

      const ids = (await whoCan(scope, 'any')).map((h) => h.identity.id);

      expect(ids).toContain(kept.id);
      expect(ids).not.toContain(revoked.id);
      expect(ids).not.toContain(expiring.id);
      expect(ids).not.toContain(disabled.id);
    });

    it('should refuse a caller without grants:read with FORBIDDEN', async () => {
      const outsider = await identityWithGrants(server, ['identities:read']);

      const response = await gql(server.url, outsider.key, WHO_CAN, { scope: 'grants:read' });

      expectError(response, 'FORBIDDEN', 'grants:read');
    });

    it('should refuse a malformed scope name with BAD_USER_INPUT', async () => {
      const response = await gql(server.url, server.adminKey, WHO_CAN, { scope: 'Orders' });

      expectError(response, 'BAD_USER_INPUT', '"Orders" is not a valid scope name');
    });
  });

  describe('effectivePermissions', () => {
    it('should list what an identity can use now, per scope and resource, with expiry and the grant behind it', async () => {
      const scope = await defineScope(server);
      const other = await defineScope(server);
      const subject = await identityWithGrants(server, [
        { scope, ttlSeconds: 3600, grantable: true },
        { scope, resource: 'eu-*' },
        { scope: other, ttlSeconds: 1 },
      ]);
      await sleep(1100);

      const { effectivePermissions } = dataOf(
        await gql<{
          effectivePermissions: {
            scope: string;
            resource: string | null;
            expiresAt: string | null;
            grantable: boolean;
            grants: { id: string }[];
          }[];
        }>(server.url, server.adminKey, EFFECTIVE, { id: subject.id }),
      ) as {
        effectivePermissions: {
          scope: string;
          resource: string | null;
          expiresAt: string | null;
          grantable: boolean;
          grants: { id: string }[];
        }[];
      };

      // The expired grant of the other scope is gone.
      expect(effectivePermissions).toHaveLength(2);
      const [global, prefixed] = effectivePermissions;
      expect(global).toMatchObject({
        scope,
        resource: null,
        grantable: true,
        expiresAt: subject.grants[0]?.expiresAt,
        grants: [{ id: subject.grants[0]?.id }],
      });
      expect(prefixed).toMatchObject({
        scope,
        resource: 'eu-*',
        expiresAt: null,
        grantable: false,
        grants: [{ id: subject.grants[1]?.id }],
      });
    });

    it('should let an identity read its own without any scope, and nobody else’s', async () => {
      const scope = await defineScope(server);
      const self = await identityWithGrants(server, [{ scope }]);
      const other = await createIdentity(server);

      const own = await gql(server.url, self.key, EFFECTIVE, { id: self.id });
      const theirs = await gql(server.url, self.key, EFFECTIVE, { id: other.id });

      expect(own.body.errors).toBeUndefined();
      expectError(theirs, 'FORBIDDEN', 'grants:read');
    });

    it('should give a disabled identity nothing', async () => {
      const subject = await identityWithGrants(server, ['identities:read']);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
          {
            id: subject.id,
          },
        ),
      );

      const response = await gql(server.url, server.adminKey, EFFECTIVE, { id: subject.id });

      expect(response.body.data).toEqual({ effectivePermissions: [] });
    });

    it('should answer an unknown identity with NOT_FOUND', async () => {
      const response = await gql(server.url, server.adminKey, EFFECTIVE, {
        id: '00000000-0000-4000-8000-000000000000',
      });

      expectError(
        response,
        'NOT_FOUND',
        'Identity 00000000-0000-4000-8000-000000000000 does not exist.',
      );
    });
  });

  describe('revokeAllGrants, the kill switch', () => {
    it('should revoke every active grant and live key in one call, each with its audit event', async () => {
      const scope = await defineScope(server);
      const target = await identityWithGrants(server, [{ scope }, 'identities:read']);
      const spare = await createKey(server, target.id);
      const before = await countRows(server, 'audit_events');

      const result = dataOf(
        await gql<{
          revokeAllGrants: {
            grants: { id: string; active: boolean; revokeReason: string }[];
            apiKeys: { id: string; revokedAt: string | null }[];
          };
        }>(server.url, server.adminKey, REVOKE_ALL, { id: target.id, reason: 'INC-7: key leaked' }),
      ) as {
        revokeAllGrants: {
          grants: { id: string; active: boolean; revokeReason: string }[];
          apiKeys: { id: string; revokedAt: string | null }[];
        };
      };

      expect(result.revokeAllGrants.grants.map((g) => g.id).sort()).toEqual(
        target.grants.map((g) => g.id).sort(),
      );
      expect(
        result.revokeAllGrants.grants.every(
          (g) => !g.active && g.revokeReason === 'INC-7: key leaked',
        ),
      ).toBe(true);
      expect(result.revokeAllGrants.apiKeys.map((k) => k.id).sort()).toEqual(
        [target.keyId, spare.id].sort(),
      );
      expect(
        await countRows(server, 'grants', 'identity_id = $1 and revoked_at is null', [target.id]),
      ).toBe(0);
      expect(await countRows(server, 'audit_events')).toBe(before + 4);
      expectUnauthenticated(await gql(server.url, target.key, '{ me { id } }'), /revoked/);
    });

    it('should change nothing when one grant is beyond the caller’s authority, and name it', async () => {
      const scope = await defineScope(server);
      const operator = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        'identities:write',
        'identities:read',
      ]);
      const target = await identityWithGrants(server, [{ scope }]);
      const before = await snapshot(server);

      const response = await gql(server.url, operator.key, REVOKE_ALL, {
        id: target.id,
        reason: 'x',
      });

      const error = expectError(response, 'FORBIDDEN', `"${scope}" on every resource`);
      expect(error.extensions?.grantIds).toEqual([target.grants[0]?.id]);
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse the caller’s own identity with BAD_USER_INPUT', async () => {
      const response = await gql(server.url, server.adminKey, REVOKE_ALL, {
        id: server.adminId,
        reason: 'x',
      });

      expectError(response, 'BAD_USER_INPUT', 'You cannot revoke all of your own access');
    });

    it('should answer an unknown identity with NOT_FOUND', async () => {
      const response = await gql(server.url, server.adminKey, REVOKE_ALL, {
        id: '00000000-0000-4000-8000-000000000000',
        reason: 'x',
      });

      expectError(response, 'NOT_FOUND');
    });

    it('should refuse to leave a built-in scope without a grantable holder with CONFLICT', async () => {
      // The admin made a second root; that root took audit:read from the admin. The admin is the
      // grantor of everything the second root holds, but revoking it all would orphan audit:read.
      const root = await identityWithGrants(
        server,
        BUILTIN_SCOPES.map(({ name }) => ({ scope: name, grantable: true })),
      );
      const [adminAudit] = await server.database.query<{ id: string }>(
        `select id::text as id from grants where identity_id = $1 and scope = 'audit:read' and revoked_at is null`,
        [server.adminId],
      );
      dataOf(
        await gql(
          server.url,
          root.key,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "taking it over") { id } }',
          { id: adminAudit?.id },
        ),
      );
      const before = await snapshot(server);

      const response = await gql(server.url, server.adminKey, REVOKE_ALL, {
        id: root.id,
        reason: 'x',
      });

      expectError(response, 'CONFLICT', '"audit:read"');
      expect(await snapshot(server)).toEqual(before);
    });
  });
});

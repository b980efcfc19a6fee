import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES } from '../../src/modules/scopes/builtin-scopes.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { identityWithGrants } from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

/** Every built-in scope Keyholder declares. */
const BUILTIN = BUILTIN_SCOPES.map((s) => s.name).sort();

const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Handing over.") { id active } }';
const DISABLE = 'mutation($id: ID!) { disableIdentity(id: $id) { id status } }';

describe.each(engines())('no lockout of the built-in scopes on %s', (engine) => {
  let server: TestServer;

  afterEach(async () => {
    await server?.stop();
  });

  async function adminGrantOf(scope: string): Promise<string> {
    const data = dataOf(
      await gql(server.url, server.adminKey, '{ me { grants { id scope { name } } } }'),
    );
    const grants = (data.me as { grants: { id: string; scope: { name: string } }[] }).grants;
    const found = grants.find((g) => g.scope.name === scope);
    if (found === undefined) throw new Error(`The admin holds no grant of ${scope}.`);
    return found.id;
  }

  it('should refuse to revoke the last grantable grant of a built-in scope with CONFLICT, changing nothing', async () => {
    server = await startTestServer(engine);
    const grantId = await adminGrantOf('grants:write');
    const before = await snapshot(server);

    const response = await gql(server.url, server.adminKey, REVOKE, { id: grantId });

    const error = expectError(
      response,
      'CONFLICT',
      `Revoking grant ${grantId} would leave no active identity holding "grants:write" grantable`,
    );
    expect(error.extensions?.orphanedScopes).toEqual(['grants:write']);
    expect(await snapshot(server)).toEqual(before);
  });

  it('should allow that revocation once another active identity holds the scope grantable', async () => {
    server = await startTestServer(engine);
    await identityWithGrants(server, [{ scope: 'grants:write', grantable: true }]);
    const grantId = await adminGrantOf('grants:write');

    const response = await gql(server.url, server.adminKey, REVOKE, { id: grantId });

    expect(dataOf(response).revokeGrant).toEqual({ id: grantId, active: false });
  });

  it('should refuse to disable the only administrator, naming every scope that would be orphaned', async () => {
    server = await startTestServer(engine);
    const deputy = await identityWithGrants(server, [
      'identities:write',
      'identities:read',
      { scope: 'scopes:read', grantable: true },
    ]);
    const before = await snapshot(server);

    const response = await gql(server.url, deputy.key, DISABLE, { id: server.adminId });

    const error = expectError(response, 'CONFLICT', 'Disabling "bootstrap-admin" would leave');
    expect(error.extensions?.orphanedScopes).toEqual(BUILTIN.filter((s) => s !== 'scopes:read'));
    expect(await snapshot(server)).toEqual(before);
  });

  it('should allow disabling an administrator once another one holds every built-in scope grantable', async () => {
    server = await startTestServer(engine);
    const successor = await identityWithGrants(
      server,
      BUILTIN.map((scope) => ({ scope, grantable: true })),
    );

    const response = await gql(server.url, successor.key, DISABLE, { id: server.adminId });

    expect(dataOf(response).disableIdentity).toEqual({ id: server.adminId, status: 'DISABLED' });
  });
});

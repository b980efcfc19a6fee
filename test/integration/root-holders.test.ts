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

// Issue 20.3: every scope keeps a root holder, not only the built-in ones, through every path that
// ends grants; and only unconditional holders independent of what is removed count.
describe.each(engines())('no lockout of any scope on %s', (engine) => {
  let server: TestServer;

  afterEach(async () => {
    await server?.stop();
  });

  const defineAs = async (key: string) => {
    const name = `app${Math.random().toString(36).slice(2, 8)}:read`;
    dataOf(
      await gql(
        server.url,
        key,
        'mutation($name: String!) { defineScope(input: { name: $name, description: "App" }) { name } }',
        { name },
      ),
    );
    return name;
  };
  const grantsOf = async (key: string) =>
    (
      dataOf(await gql(server.url, key, '{ me { grants { id scope { name } } } }')).me as {
        grants: { id: string; scope: { name: string } }[];
      }
    ).grants;

  it("should refuse revoking an application scope's last root grant, and allow it once another holder is unconditional and not an agent", async () => {
    server = await startTestServer(engine);
    // The admin defines it: a key minted for another definer by someone else would never cover
    // the definer's own new scope (a key is capped by what its minter could delegate then).
    const definer = { id: server.adminId, key: server.adminKey };
    const agent = await identityWithGrants(server, [], { kind: 'AGENT', ownerId: definer.id });
    const scope = await defineAs(definer.key);
    const root = (await grantsOf(definer.key)).find((g) => g.scope.name === scope)?.id;
    const before = await snapshot(server);

    expectError(
      await gql(server.url, definer.key, REVOKE, { id: root }),
      'CONFLICT',
      `would leave no active identity holding "${scope}" grantable`,
    );
    expect(await snapshot(server)).toEqual(before);

    // Holders that do not count: one under a condition, and an agent (its owner's authority).
    const grantAs = (identityId: string, more: Record<string, unknown> = {}) =>
      gql(
        server.url,
        definer.key,
        'mutation($input: GrantInput!) { grant(input: $input) { id } }',
        { input: { identityId, scope, grantable: true, reason: 'Second holder.', ...more } },
      );
    const conditional = await identityWithGrants(server, []);
    dataOf(await grantAs(conditional.id, { condition: 'request.hour >= 0' }));
    dataOf(await grantAs(agent.id));
    expectError(
      await gql(server.url, definer.key, REVOKE, { id: root }),
      'CONFLICT',
      'would leave no active identity',
    );

    const second = await identityWithGrants(server, []);
    dataOf(await grantAs(second.id));
    expect(
      dataOf(await gql(server.url, definer.key, REVOKE, { id: root })).revokeGrant,
    ).toMatchObject({ active: false });
  });
});

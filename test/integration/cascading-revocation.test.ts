import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, grant, identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const REVOKE = `mutation($id: ID!, $cascade: Boolean) {
  revokeGrant(id: $id, reason: "Left the company.", cascade: $cascade) { id active }
}`;
const GRANT_STATE = `query($id: ID!) {
  identity(id: $id) { grants(active: false) { id active revokeReason authorizedGrants(active: false) { id } } }
}`;
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { policy { cascadeRevocation } }
}`;

interface GrantState {
  id: string;
  active: boolean;
  authorizedGrants: { id: string }[];
}

// Issue 21.6: revoking a delegator's grantable grant can also revoke what it delegated, so a
// puppet cannot keep re-delegating; a grant still resting on another live grant stays.
describe.each(engines())('cascading revocation on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** A chain admin → a → b → c of `scope`, each grantable but the last. */
  async function chain(scope: string) {
    const delegator = (grants: string[] = []) =>
      identityWithGrants(server, ['grants:write', 'grants:read', ...grants]);
    const a = await delegator();
    const b = await delegator();
    const c = await identityWithGrants(server, []);
    const ab = await grant(server, a.id, { scope, grantable: true });
    const bc = await grant(server, b.id, { scope, grantable: true, as: a.key });
    const cd = await grant(server, c.id, { scope, as: b.key });
    return { a, b, c, grants: [ab.id, bc.id, cd.id] };
  }

  const stateOf = async (holder: SeededPrincipal, grantId: string) => {
    const data = dataOf(await gql(server.url, server.adminKey, GRANT_STATE, { id: holder.id }));
    const grants = (data.identity as { grants: GrantState[] }).grants;
    return grants.find((g) => g.id === grantId);
  };

  it('should revoke what rested on a grant, transitively, each with its event, when asked', async () => {
    const scope = await defineScope(server);
    const { a, b, c, grants } = await chain(scope);
    const [ab, bc, cd] = grants as [string, string, string];
    expect((await stateOf(a, ab))?.authorizedGrants).toEqual([{ id: bc }]);

    const revoked = dataOf(
      await gql(server.url, server.adminKey, REVOKE, { id: ab, cascade: true }),
    );

    expect(revoked.revokeGrant).toEqual({ id: ab, active: false });
    expect((await stateOf(b, bc))?.active).toBe(false);
    expect((await stateOf(c, cd))?.active).toBe(false);
    const events = await server.database.query<{
      subject_id: string;
      details: Record<string, unknown>;
    }>(
      `select subject_id, details from audit_events
        where action = 'grant.revoked' and subject_id = any($1::text[]) order by seq`,
      [grants],
    );
    expect(events.map((e) => e.subject_id)).toEqual(grants);
    expect(events[0]?.details).toMatchObject({ cascade: true, cascadedGrantIds: [bc, cd] });
    expect(events[2]?.details).toMatchObject({ cascadeOf: ab });
    const denied = await gql(
      server.url,
      c.key,
      'query($id: ID!, $s: String!) { check(identityId: $id, scope: $s) { allowed } }',
      { id: c.id, s: scope },
    );
    expect(dataOf(denied).check).toEqual({ allowed: false });
  });

  it('should leave what was delegated in place without cascade', async () => {
    const scope = await defineScope(server);
    const { b, grants } = await chain(scope);
    const [ab, bc] = grants as [string, string, string];

    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: ab }));

    expect((await stateOf(b, bc))?.active).toBe(true);
  });

  it('should keep a grant that also rests on another live grant', async () => {
    const scope = await defineScope(server);
    const { b, c, grants } = await chain(scope);
    const [ab, , cd] = grants as [string, string, string];
    // b also holds the scope on r* from someone else, so c's grant on r1 rests on both.
    const other = await identityWithGrants(server, ['grants:write', 'grants:read']);
    await grant(server, other.id, { scope, grantable: true });
    await grant(server, b.id, { scope, resource: 'r*', grantable: true, as: other.key });
    const second = await grant(server, c.id, { scope, resource: 'r1', as: b.key });

    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: ab, cascade: true }));

    expect((await stateOf(c, cd))?.active).toBe(false);
    expect((await stateOf(c, second.id))?.active).toBe(true);
  });

  it("should cascade by default when the scope's policy says so, unless told not to", async () => {
    const scope = await defineScope(server);
    expect(
      dataOf(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope,
          input: { cascadeRevocation: true },
        }),
      ).setScopePolicy,
    ).toEqual({ policy: { cascadeRevocation: true } });
    const first = await chain(scope);
    const second = await chain(scope);

    dataOf(await gql(server.url, server.adminKey, REVOKE, { id: first.grants[0] }));
    dataOf(
      await gql(server.url, server.adminKey, REVOKE, { id: second.grants[0], cascade: false }),
    );

    expect((await stateOf(first.c, first.grants[2] as string))?.active).toBe(false);
    expect((await stateOf(second.c, second.grants[2] as string))?.active).toBe(true);
  });
});

import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrdersSchema } from '../../examples/gateway/orders-schema.js';
import { remoteGrants } from '../../src/index.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  sleep,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

interface GrantState {
  readonly id: string;
  readonly active: boolean;
  readonly useCount: number;
  readonly revokeReason: string | null;
}

async function grantsOf(server: TestServer, identityId: string): Promise<Map<string, GrantState>> {
  const data = dataOf(
    await gql(
      server.url,
      server.adminKey,
      `query($id: ID!) { grants(first: 100, filter: { identityId: $id }) {
        nodes { id active useCount revokeReason } } }`,
      { id: identityId },
    ),
  );
  const nodes = (data.grants as { nodes: GrantState[] }).nodes;
  return new Map(nodes.map((node) => [node.id, node]));
}

async function report(server: TestServer, key: string, ids: readonly string[]) {
  return gql(server.url, key, 'mutation($ids: [ID!]!) { reportGrantUse(grantIds: $ids) }', { ids });
}

describe.each(engines())('uses reported from every enforcement point on %s', (engine) => {
  let server: TestServer;
  let pep: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine, { grantUsageFlushMs: 20, reapIntervalMs: 100 });
    pep = await identityWithGrants(server, ['decisions:execute']);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('should count reported uses of live grants only, for enforcement points only', async () => {
    const scope = await defineScope(server);
    const holder = await createIdentity(server);
    const live = await grant(server, holder.id, { scope, resource: 'a' });
    const gone = await grant(server, holder.id, { scope, resource: 'b' });
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }',
        {
          id: gone.id,
        },
      ),
    );
    const counted = dataOf(await report(server, pep.key, [live.id, gone.id, live.id]));
    expect(counted.reportGrantUse).toBe(1);
    await expectEventually(
      async () => (await grantsOf(server, holder.id)).get(live.id)?.useCount,
      (count) => count === 1,
      'the reported use',
    );
    expect((await grantsOf(server, holder.id)).get(gone.id)?.useCount).toBe(0);

    const plain = await identityWithGrants(server, []);
    expectError(await report(server, plain.key, [live.id]), 'FORBIDDEN', 'decisions:execute');
    expectError(await report(server, pep.key, ['not-an-id']), 'BAD_USER_INPUT');
    expectError(
      await report(
        server,
        pep.key,
        Array.from({ length: 1001 }, () => live.id),
      ),
      'BAD_USER_INPUT',
      '1000',
    );
    const [scopeRow] = await server.database.query<{ first_used_at: Date | null }>(
      'select first_used_at from scopes where name = $1',
      [scope],
    );
    expect(scopeRow?.first_used_at).not.toBeNull();
  });

  it('should report the grants a remoteGrants service used, with the service’s key', async () => {
    const scope = 'orders:read';
    await defineScope(server, { name: scope });
    const customer = await identityWithGrants(server, [scope]);
    const remote = remoteGrants<{ apiKey: string | null }>({
      url: `${server.url}/graphql`,
      apiKey: (context) => context.apiKey,
      reportUsage: { apiKey: pep.key, flushMs: 60_000 },
    });
    try {
      const schema = createOrdersSchema(remote, [
        { id: 'ord-1', item: 'Desk', total: 100, ownerId: customer.id },
      ]);
      const result = await graphql({
        schema,
        source: '{ orders { id } }',
        contextValue: { apiKey: customer.key },
      });
      expect(result.errors).toBeUndefined();
    } finally {
      await remote.close();
    }
    const held = customer.grants[0]?.id as string;
    await expectEventually(
      async () => (await grantsOf(server, customer.id)).get(held)?.useCount,
      (count) => count === 1,
      'the use reported by the service',
    );
  });

  it('should spare grants of a scope never used anywhere that reports, and say why', async () => {
    const scope = await defineScope(server);
    const holder = await createIdentity(server);
    const idle = await grant(server, holder.id, { scope });
    await server.database.query(
      `update grants set created_at = now() - interval '2 hours' where id = $1`,
      [idle.id],
    );
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($s: String!) { setScopeReaping(scope: $s, unusedForSeconds: 3600) { name } }',
        { s: scope },
      ),
    );
    await expectEventually(
      async () => server.logs.map((l) => l.message),
      (messages) => messages.some((m) => m.includes(`Not reaping grants of "${scope}"`)),
      'the reaper saying why it spares the scope',
    );
    expect((await grantsOf(server, holder.id)).get(idle.id)?.active).toBe(true);
    const shown = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'query($s: String!) { scope(name: $s) { firstUsedAt } }',
        {
          s: scope,
        },
      ),
    );
    expect(shown.scope).toEqual({ firstUsedAt: null });
  });

  it('should reap 0 grants used through check, AuthZEN or remoteGrants, and the unused one', async () => {
    const scope = await defineScope(server);
    const viaCheck = await createIdentity(server, { kind: 'USER', externalId: `c-${Date.now()}` });
    const viaAuthzen = await createIdentity(server, {
      kind: 'USER',
      externalId: `a-${Date.now()}`,
    });
    const viaRemote = await createIdentity(server);
    const unused = await createIdentity(server);
    const grants = {
      check: await grant(server, viaCheck.id, { scope }),
      authzen: await grant(server, viaAuthzen.id, { scope }),
      remote: await grant(server, viaRemote.id, { scope }),
      unused: await grant(server, unused.id, { scope }),
    };
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($s: String!) { setScopeReaping(scope: $s, unusedForSeconds: 2) { name } }',
        { s: scope },
      ),
    );
    // Uses every 250 ms through each enforcement point, until the unused grant is reaped (2 s
    // after its creation) and a second more: a reaper run every 100 ms looks throughout.
    let reapedAt: number | null = null;
    while (reapedAt === null || Date.now() - reapedAt < 1000) {
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($id: ID!, $s: String!) { check(identityId: $id, scope: $s) { allowed } }',
          { id: viaCheck.id, s: scope },
        ),
      );
      const evaluation = await fetch(`${server.url}/access/v1/evaluation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${pep.key}` },
        body: JSON.stringify({
          subject: { type: 'user', id: viaAuthzen.externalId },
          action: { name: scope },
          resource: { type: 'thing', id: 'x' },
        }),
      });
      expect(await evaluation.json()).toEqual({ decision: true });
      dataOf(await report(server, pep.key, [grants.remote.id]));
      if (reapedAt === null && !(await grantsOf(server, unused.id)).get(grants.unused.id)?.active) {
        reapedAt = Date.now();
      }
      await sleep(250);
    }
    for (const [identity, held] of [
      [viaCheck, grants.check],
      [viaAuthzen, grants.authzen],
      [viaRemote, grants.remote],
    ] as const) {
      const state = (await grantsOf(server, identity.id)).get(held.id);
      expect(state?.active, `the grant used through ${identity.id}`).toBe(true);
      expect(state?.useCount).toBeGreaterThan(0);
    }
    expect((await grantsOf(server, unused.id)).get(grants.unused.id)?.revokeReason).toBe(
      'unused for 2 seconds',
    );
  }, 30_000);
});

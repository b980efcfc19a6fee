import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  createScratchDataDir,
  type Engine,
  engines,
  type ScratchDatabase,
} from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import {
  ADMIN_KEY,
  type ServerOverrides,
  snapshot,
  startTestServer,
  type TestServer,
} from '../fixtures/test-server.js';

/** Where a restarted server finds its data again: a PGlite directory or a PostgreSQL database. */
async function storage(
  engine: Engine,
): Promise<{ overrides: ServerOverrides; remove(): Promise<void> }> {
  if (engine === 'pglite') {
    const dataDir = await createScratchDataDir();
    return { overrides: { dataDir: dataDir.path }, remove: () => dataDir.remove() };
  }
  const database: ScratchDatabase = await createScratchDatabase();
  return { overrides: { databaseUrl: database.url }, remove: () => database.drop() };
}

describe.each(engines())('restarting on the same data on %s', (engine) => {
  let place: Awaited<ReturnType<typeof storage>>;
  let first: TestServer;
  let second: TestServer;
  let holder: SeededPrincipal;
  let scope: string;
  let before: Record<string, number>;

  beforeAll(async () => {
    place = await storage(engine);
    first = await startTestServer(engine, place.overrides);
    scope = await defineScope(first);
    holder = await identityWithGrants(first, [
      'identities:read',
      { scope, resource: 'kept-*', ttlSeconds: 3600 },
    ]);
    before = await snapshot(first);
    await first.stop();
    second = await startTestServer(engine, {
      ...place.overrides,
      bootstrapAdminKey: 'kh_a_different_bootstrap_key_that_must_not_be_used',
      adminKey: ADMIN_KEY,
    });
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await place?.remove();
  });

  it('should keep every identity, key, scope, grant and audit event', async () => {
    expect(await snapshot(second)).toEqual(before);
  });

  it('should accept the keys issued before the restart', async () => {
    const data = dataOf(
      await gql(
        second.url,
        holder.key,
        '{ me { id grants { id scope { name } resource expiresAt } } identities(first: 1) { nodes { id } } }',
      ),
    );

    expect(data.me.id).toBe(holder.id);
    expect(data.me.grants).toEqual(
      holder.grants.map((g) => ({
        id: g.id,
        scope: { name: g.scope },
        resource: g.resource,
        expiresAt: g.expiresAt,
      })),
    );
    expect(second.adminId).toBe(first.adminId);
  });

  it('should keep the defined scope and its definition', async () => {
    const data = dataOf(
      await gql(second.url, ADMIN_KEY, 'query($n: String!) { scope(name: $n) { name builtin } }', {
        n: scope,
      }),
    );

    expect(data.scope).toEqual({ name: scope, builtin: false });
  });

  it('should not bootstrap a second admin, nor accept a new BOOTSTRAP_ADMIN_KEY', async () => {
    const admins = await second.database.query<{ n: number }>(
      "select count(*)::int as n from identities where name = 'bootstrap-admin'",
    );

    expect(Number(admins[0]?.n)).toBe(1);
    expect(second.keyholder.bootstrapSecret).toBeUndefined();
    expectError(
      await gql(second.url, 'kh_a_different_bootstrap_key_that_must_not_be_used', '{ me { id } }'),
      'UNAUTHENTICATED',
      'The API key is not recognised.',
    );
  });
});

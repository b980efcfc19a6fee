import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import { createKey, defineScope, identityWithGrants, unique } from '../fixtures/seed.js';
import type { TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

/** Issue 4: zero stale allows in 1,000 cross-instance revocation races. */
const RACES = 1000;
const HOLDERS = 10;
/** Races in flight at once (each is sequential: revoke on A, then check on B). */
const CONCURRENCY = 16;

// Two instances need one database they both reach over the network: PGlite lives inside one
// process, so these specs run on PostgreSQL only.
const SKIP_REASON = '(PostgreSQL only: PGlite cannot be shared by two servers)';

const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) { allowed reason revision }
}`;
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Race.") { id active } }';

interface Race {
  readonly grantId: string;
  readonly holderId: string;
  /** The holder's own key: odd races ask B as the holder about itself, even ones as the admin. */
  readonly holderKey: string;
  readonly resource: string;
}

function revisionOf(response: GqlResponse<unknown>): bigint {
  const value = response.headers.get('keyholder-revision');
  if (value === null)
    throw new Error(`No keyholder-revision header: ${JSON.stringify(response.body)}`);
  return BigInt(value);
}

/** Runs `work` on every item, `limit` at a time. */
async function pooled<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

describe.each(engines())('verifiable revocation across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let scope: string;
  const races: Race[] = [];

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances();
    ({ a, b } = instances);
    scope = await defineScope(a);
    const holders = await Promise.all(
      Array.from({ length: HOLDERS }, () => identityWithGrants(a, [], { kind: 'SERVICE' })),
    );
    // The grants are seeded in one statement, straight into the table (granted by the admin, so
    // the admin may revoke them): the races are about revoking, and 1,000 grant mutations would
    // take most of the spec's time. Every revocation below goes through the API.
    const holderIds = Array.from({ length: RACES }, (_, i) => holders[i % HOLDERS]?.id as string);
    const resources = Array.from({ length: RACES }, (_, i) => `${unique('r')}-${i}`);
    const rows = await a.database.query<{ id: string; identity_id: string; resource: string }>(
      // Seeded behind the API, so stamped by hand (audit_seq 0): a row without it is not live.
      `insert into grants (identity_id, scope, resource, reason, granted_by, audit_seq)
         select h, $3, r, 'Race seed.', $4, 0 from unnest($1::uuid[], $2::text[]) as seed(h, r)
       returning id, identity_id, resource`,
      [holderIds, resources, scope, a.adminId],
    );
    const keyOf = new Map(holders.map((h) => [h.id, h.key]));
    for (const row of rows) {
      races.push({
        grantId: row.id,
        holderId: row.identity_id,
        holderKey: keyOf.get(row.identity_id) as string,
        resource: row.resource,
      });
    }
  }, 120_000);

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    `should allow nothing on B in ${RACES} races of revokeGrant returning on A then a request on B ${SKIP_REASON}`,
    async () => {
      expect(races).toHaveLength(RACES);
      const staleAllows: string[] = [];
      const staleRevisions: string[] = [];
      const revisions: bigint[] = [];

      // Before: B lets every holder use every one of its resources.
      for (const holderId of new Set(races.map((r) => r.holderId))) {
        const permissions = dataOf(
          await gql(
            b.url,
            b.adminKey,
            'query($id: ID!) { effectivePermissions(identityId: $id) { scope resource } }',
            { id: holderId },
          ),
        ).effectivePermissions as { scope: string; resource: string }[];
        expect(new Set(permissions.map((p) => `${p.scope} ${p.resource}`))).toEqual(
          new Set(
            races.filter((r) => r.holderId === holderId).map((r) => `${scope} ${r.resource}`),
          ),
        );
      }

      await pooled(races, CONCURRENCY, async (race, index) => {
        const key = index % 2 === 1 ? race.holderKey : b.adminKey;
        const variables = { id: race.holderId, scope, resource: race.resource };
        const revoked = await gql(a.url, a.adminKey, REVOKE, { id: race.grantId });
        expect(dataOf(revoked).revokeGrant.active).toBe(false);
        const revokedAt = revisionOf(revoked);
        // Immediately: the next request, on the other instance.
        const after = await gql(b.url, key, CHECK, variables);

        const decision = dataOf(after).check as { allowed: boolean; revision: string };
        if (decision.allowed) staleAllows.push(race.grantId);
        if (BigInt(decision.revision) < revokedAt || revisionOf(after) < revokedAt) {
          staleRevisions.push(
            `${race.grantId}: revoked at ${revokedAt}, B saw ${decision.revision}`,
          );
        }
        revisions.push(revokedAt);
      });

      expect(staleAllows).toEqual([]);
      expect(staleRevisions).toEqual([]);
      // Every revocation committed at a revision of its own.
      expect(new Set(revisions).size).toBe(RACES);
    },
    120_000,
  );

  it.skipIf(!shared)(
    `should deny a revoked key on B once revokeApiKey returned on A, at a revision at least A's ${SKIP_REASON}`,
    async () => {
      const holder = races[0] as Race;
      const key = await createKey(a, holder.holderId);
      dataOf(await gql(b.url, key.secret, '{ me { id } }'));

      const revoked = await gql(
        a.url,
        a.adminKey,
        'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
        {
          id: key.id,
        },
      );
      dataOf(revoked);
      const refused = await gql(b.url, key.secret, '{ me { id } }');
      const check = await gql(b.url, b.adminKey, CHECK, {
        id: holder.holderId,
        scope,
        resource: holder.resource,
      });

      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(revisionOf(check)).toBeGreaterThanOrEqual(revisionOf(revoked));
    },
  );
});

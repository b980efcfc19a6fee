import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GrantReaper } from '../../src/modules/usage/grant-reaper.js';
import { GrantUsageRecorder } from '../../src/modules/usage/grant-usage-recorder.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededGrant,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, executeWs, OperationRecorder, type WsClient } from '../fixtures/ws.js';

const DAY = 86_400;

/** The `index`th grant a principal was seeded with. */
function grantOf(principal: SeededPrincipal, index: number): SeededGrant {
  const seeded = principal.grants[index];
  if (seeded === undefined) throw new Error(`The principal has no grant ${index}.`);
  return seeded;
}

interface UsageView {
  id: string;
  useCount: number;
  lastUsedAt: string | null;
  active: boolean;
  revokeReason: string | null;
}

const GRANT_USAGE = `query($id: ID!) {
  grants(filter: { identityId: $id }) { nodes { id useCount lastUsedAt active revokeReason } }
}`;

/** The grants of `identityId` with their usage, by id, as the admin sees them. */
async function usageOf(server: TestServer, identityId: string): Promise<Map<string, UsageView>> {
  const data = dataOf(await gql(server.url, server.adminKey, GRANT_USAGE, { id: identityId }));
  const nodes = (data.grants as { nodes: UsageView[] }).nodes;
  return new Map(nodes.map((n) => [n.id, n]));
}

/** Waits until grant `grantId` of `identityId` satisfies `done`, and returns it. */
async function grantEventually(
  server: TestServer,
  identityId: string,
  grantId: string,
  done: (grant: UsageView) => boolean,
  what: string,
): Promise<UsageView> {
  const map = await expectEventually(
    () => usageOf(server, identityId),
    (m) => {
      const g = m.get(grantId);
      return g !== undefined && done(g);
    },
    what,
  );
  return map.get(grantId) as UsageView;
}

/** Moves a grant's creation (and so, when never used, its last activity) `seconds` back. */
async function backdate(server: TestServer, grantId: string, seconds: number): Promise<void> {
  await server.database.query(
    `update grants set created_at = now() - make_interval(secs => $2) where id = $1`,
    [grantId, seconds],
  );
}

/** Records a use of the grant `secondsAgo` ago directly (as another instance's flush would). */
async function usedAgo(server: TestServer, grantId: string, secondsAgo: number): Promise<void> {
  await server.database.query(
    `insert into grant_usage (grant_id, last_used_at, use_count)
     values ($1, now() - make_interval(secs => $2), 1)
     on conflict (grant_id) do update set last_used_at = excluded.last_used_at`,
    [grantId, secondsAgo],
  );
  await server.database.query(
    `update scopes set first_used_at = coalesce(first_used_at, now())
     where name = (select scope from grants where id = $1)`,
    [grantId],
  );
}

/**
 * Marks `scope` as used somewhere that reports (as a use of another grant of it long ago would):
 * the reaper spares the grants of a scope no use of which was ever reported.
 */
async function everUsed(server: TestServer, scope: string): Promise<void> {
  await server.database.query(
    `update scopes set first_used_at = now() - interval '1 year' where name = $1`,
    [scope],
  );
}

async function setReaping(
  server: TestServer,
  scope: string,
  unusedForSeconds: number | null,
  key = server.adminKey,
) {
  return gql(
    server.url,
    key,
    `mutation($scope: String!, $s: Int) {
      setScopeReaping(scope: $scope, unusedForSeconds: $s) { name reapUnusedAfterSeconds }
    }`,
    { scope, s: unusedForSeconds },
  );
}

async function revokedEvent(server: TestServer, grantId: string) {
  const rows = await server.database.query<{ actor_id: string | null; details: unknown }>(
    `select actor_id, details from audit_events where action = 'grant.revoked' and subject_id = $1`,
    [grantId],
  );
  return rows.map((r) => ({
    actorId: r.actor_id,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<
      string,
      unknown
    >,
  }));
}

const UNUSED = `query($s: Int!, $first: Int, $after: String) {
  unusedGrants(olderThanSeconds: $s, first: $first, after: $after) {
    nodes { id lastUsedAt useCount createdAt identity { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface UnusedPage {
  nodes: { id: string; lastUsedAt: string | null; useCount: number; createdAt: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Every grant `unusedGrants(olderThanSeconds)` lists, walking pages of `first`. */
async function allUnused(server: TestServer, seconds: number, first: number) {
  const ids: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const data = dataOf(
      await gql(server.url, server.adminKey, UNUSED, { s: seconds, first, after }),
    );
    const connection = data.unusedGrants as UnusedPage;
    ids.push(...connection.nodes.map((n) => n.id));
    if (!connection.pageInfo.hasNextPage) return ids;
    after = connection.pageInfo.endCursor;
  }
  throw new Error('unusedGrants never reached its last page.');
}

describe.each(engines())('Grant usage and reaping on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  beforeAll(async () => {
    // Access logging stays off (the test server's default): usage is counted without it.
    server = await startTestServer(engine, { grantUsageFlushMs: 20, reapIntervalMs: 100 });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('recording uses', () => {
    it('should count one use per HTTP operation, however many fields and values the grant allowed', async () => {
      const reader = await identityWithGrants(server, ['identities:read', 'audit:read']);
      const [identitiesRead, auditRead] = [grantOf(reader, 0), grantOf(reader, 1)];
      const query = '{ identities(first: 20) { nodes { id name kind createdAt } } }';

      dataOf(await gql(server.url, reader.key, query));
      dataOf(await gql(server.url, reader.key, query));

      const used = await grantEventually(
        server,
        reader.id,
        identitiesRead.id,
        (g) => g.useCount >= 2,
        'two uses of identities:read',
      );
      expect(used.useCount).toBe(2);
      expect(used.lastUsedAt).not.toBeNull();
      const idle = (await usageOf(server, reader.id)).get(auditRead.id);
      expect(idle).toMatchObject({ useCount: 0, lastUsedAt: null });
    });

    it('should count an allowing check about an identity as a use of its grant, a "what if" not', async () => {
      const subject = await identityWithGrants(server, ['identities:read']);
      const held = grantOf(subject, 0);
      // A service that asks before it acts is how the grant is used: it counts, like a use through
      // @requires, AuthZEN or remoteGrants, so the reaper never takes a grant in use that way.
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          `query($id: ID!) { check(identityId: $id, scope: "identities:read") { allowed } }`,
          { id: subject.id },
        ),
      );
      // A "what if" question is no use.
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          `query($id: ID!) { check(identityId: $id, scope: "identities:read", context: { ip: "10.0.0.1" }) { allowed } }`,
          { id: subject.id },
        ),
      );
      // One real use afterwards: once it shows, anything the "what if" had counted would show too.
      dataOf(await gql(server.url, subject.key, '{ identities(first: 1) { nodes { id } } }'));

      const after = await grantEventually(
        server,
        subject.id,
        held.id,
        (g) => g.useCount >= 2,
        'the uses of identities:read',
      );
      expect(after.useCount).toBe(2);
    });

    it('should count a WebSocket query once, a subscription once and once more per event', async () => {
      const auditor = await identityWithGrants(server, ['audit:read']);
      const auditRead = grantOf(auditor, 0);
      const ws = await connectAs(server.url, auditor.key);
      open.push(ws);

      const query = await executeWs(ws.client, '{ auditEvents(first: 3) { nodes { id } } }');
      expect(query.results[0]?.errors).toBeUndefined();
      const subscription = new OperationRecorder(
        ws.client,
        'subscription { auditEvents { id action subjectId } }',
      );
      // Changes until the subscription is live, then one marker: events arrive in order, so once
      // the marker's has, every event of these changes has (nothing else changes meanwhile).
      await expectEventually(
        async () => {
          await createIdentity(server);
          return subscription.results.length;
        },
        (n) => n >= 1,
        'the first audit event delivered',
      );
      const marker = await createIdentity(server);
      await subscription.waitFor(
        (r) => r.data?.auditEvents?.subjectId === marker.id,
        5000,
        "the marker's event",
      );
      subscription.stop();
      await subscription.ended;
      const delivered = subscription.results.length;
      expect(subscription.results.every((r) => r.errors === undefined)).toBe(true);

      const used = await grantEventually(
        server,
        auditor.id,
        auditRead.id,
        (g) => g.useCount >= 2 + delivered,
        'the uses of audit:read over the socket',
      );
      expect(used.useCount).toBe(2 + delivered);
    });
  });

  describe('unusedGrants', () => {
    it('should list active grants unused in the window, least recently active first, page by page', async () => {
      const scope = await defineScope(server);
      const holder = await createIdentity(server);
      const neverUsed = await grant(server, holder.id, { scope, resource: 'never' });
      const usedLongAgo = await grant(server, holder.id, { scope, resource: 'long-ago' });
      const usedRecently = await grant(server, holder.id, { scope, resource: 'recent' });
      const fresh = await grant(server, holder.id, { scope, resource: 'fresh' });
      const revoked = await grant(server, holder.id, { scope, resource: 'revoked' });
      await usedAgo(server, usedLongAgo.id, 30 * DAY);
      await usedAgo(server, usedRecently.id, 60);
      for (const g of [neverUsed, usedLongAgo, usedRecently, revoked])
        await backdate(server, g.id, 40 * DAY);
      await backdate(server, neverUsed.id, 20 * DAY);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Test.") { id } }',
          { id: revoked.id },
        ),
      );

      const listed = await allUnused(server, 10 * DAY, 1);
      const mine = listed.filter((id) =>
        [neverUsed.id, usedLongAgo.id, usedRecently.id, fresh.id, revoked.id].includes(id),
      );

      // Used 30 days ago comes before never used since its creation 20 days ago.
      expect(mine).toEqual([usedLongAgo.id, neverUsed.id]);
      expect(new Set(listed).size).toBe(listed.length);
      const data = dataOf(await gql(server.url, server.adminKey, UNUSED, { s: 25 * DAY }));
      const page = data.unusedGrants as UnusedPage;
      const longAgo = page.nodes.find((n) => n.id === usedLongAgo.id);
      expect(longAgo?.useCount).toBe(1);
      expect(Date.parse(longAgo?.lastUsedAt ?? '')).toBeLessThan(Date.now() - 29 * DAY * 1000);
      expect(page.nodes.some((n) => n.id === neverUsed.id)).toBe(false);
    });

    it.each([
      [{ s: 0 }, 'olderThanSeconds'],
      [{ s: -60 }, 'olderThanSeconds'],
      [{ s: 2_000_000_000 }, 'olderThanSeconds'],
      [{ s: 60, first: 0 }, 'first'],
      [{ s: 60, after: 'not-a-cursor' }, 'after'],
    ])('should refuse %j with BAD_USER_INPUT naming %s', async (variables, field) => {
      const response = await gql(server.url, server.adminKey, UNUSED, variables);

      expectError(response, 'BAD_USER_INPUT', field);
    });

    it('should refuse a caller without grants:read with FORBIDDEN', async () => {
      const outsider = await identityWithGrants(server, ['identities:read']);

      const response = await gql(server.url, outsider.key, UNUSED, { s: 60 });

      expectError(response, 'FORBIDDEN', 'grants:read');
    });
  });

  describe('setScopeReaping', () => {
    it('should set and clear a scope’s policy, show it on Scope, and audit each change', async () => {
      const scope = await defineScope(server);

      const set = dataOf(await setReaping(server, scope, 90 * DAY));
      expect(set.setScopeReaping).toEqual({ name: scope, reapUnusedAfterSeconds: 90 * DAY });
      const shown = dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($n: String!) { scope(name: $n) { reapUnusedAfterSeconds } }',
          {
            n: scope,
          },
        ),
      );
      expect(shown.scope).toEqual({ reapUnusedAfterSeconds: 90 * DAY });
      const cleared = dataOf(await setReaping(server, scope, null));
      expect(cleared.setScopeReaping).toEqual({ name: scope, reapUnusedAfterSeconds: null });

      const events = await server.database.query<{ actor_id: string; details: unknown }>(
        `select actor_id, details from audit_events where action = 'scope.reaping_changed' and subject_id = $1 order by seq`,
        [scope],
      );
      expect(events.map((e) => e.actor_id)).toEqual([server.adminId, server.adminId]);
      expect(events.map((e) => JSON.parse(JSON.stringify(e.details)))).toMatchObject([
        { before: { reapUnusedAfterSeconds: null }, after: { reapUnusedAfterSeconds: 90 * DAY } },
        { before: { reapUnusedAfterSeconds: 90 * DAY }, after: { reapUnusedAfterSeconds: null } },
      ]);
    });

    it.each([0, -1, 400_000_000])(
      'should refuse unusedForSeconds %d with BAD_USER_INPUT',
      async (seconds) => {
        const scope = await defineScope(server);

        expectError(await setReaping(server, scope, seconds), 'BAD_USER_INPUT', 'unusedForSeconds');
      },
    );

    it('should answer NOT_FOUND for an undefined scope and BAD_USER_INPUT for a malformed name', async () => {
      expectError(
        await setReaping(server, 'nothing.here:read', DAY),
        'NOT_FOUND',
        'nothing.here:read',
      );
      expectError(await setReaping(server, 'Not A Scope', DAY), 'BAD_USER_INPUT');
    });

    it('should refuse a caller with scopes:write who does not hold the scope grantable', async () => {
      const scope = await defineScope(server);
      const writer: SeededPrincipal = await identityWithGrants(server, [
        'scopes:write',
        { scope, grantable: false },
      ]);
      const plain = await identityWithGrants(server, [{ scope, grantable: true }]);

      expectError(await setReaping(server, scope, DAY, writer.key), 'FORBIDDEN', 'grantable');
      expectError(await setReaping(server, scope, DAY, plain.key), 'FORBIDDEN', 'scopes:write');
    });
  });

  describe('the reaper, with a policy per scope', () => {
    it('should revoke only the grants unused for the scope’s window, as Keyholder, with reaped: true', async () => {
      const scope = await defineScope(server);
      const holder = await createIdentity(server);
      const idle = await grant(server, holder.id, { scope, resource: 'idle' });
      const stillUsed = await grant(server, holder.id, { scope, resource: 'used' });
      const young = await grant(server, holder.id, { scope, resource: 'young' });
      await usedAgo(server, stillUsed.id, 3600);
      await backdate(server, stillUsed.id, 100 * DAY);
      await backdate(server, idle.id, 100 * DAY);

      dataOf(await setReaping(server, scope, 90 * DAY));

      const reaped = await grantEventually(
        server,
        holder.id,
        idle.id,
        (g) => !g.active,
        'the reaping of the idle grant',
      );
      expect(reaped.revokeReason).toBe('unused for 90 days');
      const all = await usageOf(server, holder.id);
      expect(all.get(stillUsed.id)?.active).toBe(true);
      expect(all.get(young.id)?.active).toBe(true);
      const [event, ...more] = await revokedEvent(server, idle.id);
      expect(more).toEqual([]);
      expect(event?.actorId).toBeNull();
      expect(event?.details).toMatchObject({
        reason: 'unused for 90 days',
        reaped: true,
        unusedForSeconds: 90 * DAY,
        before: { identityId: holder.id, scope, resource: 'idle', active: true },
      });
      const [row] = await server.database.query<{ revoked_by: string | null }>(
        'select revoked_by from grants where id = $1',
        [idle.id],
      );
      expect(row?.revoked_by).toBeNull();
    });
  });

  describe('the reaper, with a global default', () => {
    let global: TestServer;

    beforeAll(async () => {
      global = await startTestServer(engine, {
        grantUsageFlushMs: 20,
        reapIntervalMs: 100,
        reapUnusedAfterSeconds: 2 * 3600,
      });
    });

    afterAll(async () => {
      await global?.stop();
    });

    it('should reap scopes without a policy after the default, keep a scope’s own longer policy, and never the last root holder', async () => {
      const lenient = await defineScope(global);
      const plain = await defineScope(global);
      const holder = await createIdentity(global);
      const kept = await grant(global, holder.id, { scope: lenient });
      dataOf(await setReaping(global, lenient, 30 * DAY));
      const [adminAudit] = await global.database.query<{ id: string }>(
        `select id from grants where identity_id = $1 and scope = 'audit:read' and revoked_at is null`,
        [global.adminId],
      );
      if (adminAudit === undefined) throw new Error('The admin holds no audit:read grant.');
      await backdate(global, adminAudit.id, 3 * 3600);
      await backdate(global, kept.id, 3 * 3600);
      for (const name of [plain, lenient, 'audit:read']) await everUsed(global, name);
      // Seeded last: once it is reaped, a run has seen everything above.
      const reaped = await grant(global, holder.id, { scope: plain });
      await backdate(global, reaped.id, 3 * 3600);

      const gone = await grantEventually(
        global,
        holder.id,
        reaped.id,
        (g) => !g.active,
        'the reaping under the default',
      );

      expect(gone.revokeReason).toBe('unused for 2 hours');
      expect((await usageOf(global, holder.id)).get(kept.id)?.active).toBe(true);
      const admin = await usageOf(global, global.adminId);
      expect(admin.get(adminAudit.id)?.active).toBe(true);
      expect(global.logs.map((l) => l.message)).toContainEqual(
        expect.stringContaining(`Kept grant ${adminAudit.id} of "audit:read"`),
      );
      expect(await revokedEvent(global, adminAudit.id)).toEqual([]);
    });
  });
  describe('the reaper, with uses not yet written', () => {
    let slow: TestServer;

    beforeAll(async () => {
      // Uses would wait a minute to be written; the reaper runs every 100 ms.
      slow = await startTestServer(engine, {
        grantUsageFlushMs: 60_000,
        reapIntervalMs: 100,
        reapUnusedAfterSeconds: 3600,
      });
    });

    afterAll(async () => {
      await slow?.stop();
    });

    it('should write this instance’s pending uses before it looks, so a grant just used survives', async () => {
      const user = await identityWithGrants(slow, ['identities:read']);
      const used = grantOf(user, 0);
      dataOf(await gql(slow.url, user.key, '{ identities(first: 1) { nodes { id } } }'));
      await backdate(slow, used.id, 2 * 3600);
      const scope = await defineScope(slow);
      await everUsed(slow, scope);
      const idleHolder = await createIdentity(slow);
      const idle = await grant(slow, idleHolder.id, { scope });
      await backdate(slow, idle.id, 2 * 3600);

      await grantEventually(slow, idleHolder.id, idle.id, (g) => !g.active, 'a reaper run');

      const survivor = (await usageOf(slow, user.id)).get(used.id);
      expect(survivor).toMatchObject({ active: true, useCount: 1 });
      expect(survivor?.lastUsedAt).not.toBeNull();
    });

    it('should spare a grant whose use this process recorded after the run wrote its pending uses', async () => {
      // On the server without a default window: its own reaper leaves this scope's grants alone.
      const scope = await defineScope(server);
      await everUsed(server, scope);
      const holder = await createIdentity(server);
      const used = await grant(server, holder.id, { scope, resource: 'invoice/1' });
      const idle = await grant(server, holder.id, { scope, resource: 'invoice/2' });
      await backdate(server, used.id, 2 * 3600);
      await backdate(server, idle.id, 2 * 3600);
      // A recorder holding a use of `used` that no flush has written: as when the use comes
      // between a run's write of the pending uses (here: nothing to write) and its look.
      const uses = new GrantUsageRecorder(server.database, () => {}, { flushMs: 60_000 });
      uses.record([used.id]);
      const reaper = new GrantReaper(
        server.database,
        () => {},
        async () => {},
        {
          defaultUnusedSeconds: 3600,
          hasUnwrittenUse: (id) => uses.hasUnwritten(id),
        },
      );
      try {
        await expectEventually(
          () => reaper.run(),
          (r) => r.ran,
          'a run holding the reaper lock',
        );
        const after = await usageOf(server, holder.id);

        expect(after.get(idle.id)).toMatchObject({
          active: false,
          revokeReason: 'unused for 1 hour',
        });
        expect(after.get(used.id)).toMatchObject({ active: true, useCount: 0 });
        await uses.flush();
        expect(uses.hasUnwritten(used.id)).toBe(false);
        expect((await usageOf(server, holder.id)).get(used.id)).toMatchObject({
          active: true,
          useCount: 1,
        });
      } finally {
        await uses.close();
      }
    });
  });
});

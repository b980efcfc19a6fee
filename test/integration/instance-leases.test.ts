import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildInstance, startChildInstance } from '../fixtures/child-instance.js';
import { startDelayingProxy } from '../fixtures/delaying-proxy.js';
import { createScratchDatabase, engines, type ScratchDatabase } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { grant, identityWithGrants, type SeededPrincipal, type Target } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** Short, so that the specs where an instance dies or stops wait for its lease briefly. */
const LEASE_MS = 1000;
const LIST = '{ identities(first: 1) { nodes { id } } }';
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Leaving.") { id } }';

interface LeaseRow {
  readonly live: boolean;
  readonly applied: string | null;
}

// Leases exist only where several processes share one database: PostgreSQL. (On PGlite the feed
// is in-process, which every other spec exercises.)
const shared = engines().includes('postgres');

describe.skipIf(!shared)(
  'revocation across instances holding leases (PostgreSQL only: PGlite cannot be shared by two processes)',
  { timeout: 90_000 },
  () => {
    let scratch: ScratchDatabase;
    let a: TestServer;
    let sql: postgres.Sql;
    const children: ChildInstance[] = [];

    beforeAll(async () => {
      scratch = await createScratchDatabase();
      sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
      a = await startTestServer('postgres', {
        databaseUrl: scratch.url,
        instanceLeaseMs: LEASE_MS,
      });
    });

    afterAll(async () => {
      await Promise.all(children.map((child) => child.stop()));
      await a?.stop();
      await sql?.end({ timeout: 1 });
      await scratch?.drop();
    });

    async function child(env: Record<string, string> = {}, url = scratch.url) {
      const started = await startChildInstance(url, {
        INSTANCE_LEASE_MS: String(LEASE_MS),
        ...env,
      });
      children.push(started);
      return started;
    }

    async function lease(instance: ChildInstance): Promise<LeaseRow> {
      const [row] = await sql<{ live: boolean; applied: string | null }[]>`
        select expires_at > now() as live, applied_revision::text as applied
        from instance_leases where process = ${instance.processTag}`;
      if (row === undefined) throw new Error(`no lease row for ${instance.processTag}`);
      return row;
    }

    async function head(): Promise<bigint> {
      const [row] = await sql<{ value: string }[]>`select value::text from revision_head`;
      return BigInt(row?.value ?? '0');
    }

    /** A holder of identities:read whose authentication `b` has cached (asked twice). */
    async function cachedOn(b: ChildInstance): Promise<SeededPrincipal> {
      const holder = await identityWithGrants(a, ['identities:read']);
      for (let i = 0; i < 2; i += 1) dataOf(await gql(b.url, holder.key, LIST));
      return holder;
    }

    /** Revokes on `a`; the revision the revoke committed at. */
    async function revoke(grantId: string | undefined): Promise<bigint> {
      dataOf(await gql(a.url, a.adminKey, REVOKE, { id: grantId }));
      return head();
    }

    it('should return a revoke once the other instance has applied it, and deny there at once', async () => {
      const b = await child();
      const holder = await cachedOn(b);

      const revision = await revoke(holder.grants[0]?.id);
      const row = await lease(b);
      const after = await gql(b.url, holder.key, LIST);

      expect(row.live).toBe(true);
      expect(BigInt(row.applied ?? '0')).toBeGreaterThanOrEqual(revision);
      expectError(after, 'FORBIDDEN', 'requires scope "identities:read"');
    });

    it('should serve no stale allow on the other instance in 100 races with revocation', async () => {
      const b = await child();
      const holder = await identityWithGrants(a, []);
      const target: Target = a;
      let stale = 0;
      let racedRequests = 0;
      for (let race = 0; race < 100; race += 1) {
        const given = await grant(target, holder.id, { scope: 'identities:read' });
        // b sees the grant once the grant has returned (the grant waited for b).
        dataOf(await gql(b.url, holder.key, LIST));
        let revokedAt = Number.POSITIVE_INFINITY;
        let stop = false;
        const hammer = (async () => {
          const sent: { at: number; allowed: boolean }[] = [];
          while (!stop) {
            const at = performance.now();
            const response = await gql(b.url, holder.key, LIST);
            sent.push({ at, allowed: response.body.errors === undefined });
          }
          return sent;
        })();
        await revoke(given.id);
        revokedAt = performance.now();
        // A few requests after the revoke returned, then stop.
        for (let i = 0; i < 3; i += 1) await gql(b.url, holder.key, LIST);
        stop = true;
        const sent = await hammer;
        racedRequests += sent.length;
        stale += sent.filter((request) => request.at > revokedAt && request.allowed).length;
      }

      expect(racedRequests).toBeGreaterThan(100);
      expect(stale).toBe(0);
    });

    it('should let a revoke return once a killed instance’s lease has run out', async () => {
      const b = await child();
      const holder = await cachedOn(b);
      b.child.kill('SIGKILL');

      await revoke(holder.grants[0]?.id);

      expect((await lease(b)).live).toBe(false);
    });

    it('should not let a paused instance answer from its cache once it resumes after a revoke', async () => {
      const b = await child();
      const holder = await cachedOn(b);
      b.child.kill('SIGSTOP');

      await revoke(holder.grants[0]?.id);
      const whilePaused = await lease(b);
      b.child.kill('SIGCONT');
      const after = await gql(b.url, holder.key, LIST);

      expect(whilePaused.live).toBe(false);
      expectError(after, 'FORBIDDEN', 'requires scope "identities:read"');
      // It takes its lease again and answers from its cache again.
      const again = await identityWithGrants(a, ['identities:read']);
      dataOf(await gql(b.url, again.key, LIST));
      await expectEventually(
        () => lease(b),
        (row) => row.live,
        'the lease taken again',
      );
    });

    it('should stop answering from the cache when its listener’s connection is dropped, and listen again', async () => {
      const b = await child();
      const holder = await cachedOn(b);
      const [dropped] = await sql<{ dropped: boolean }[]>`
        select pg_terminate_backend(pid) as dropped from pg_stat_activity
        where application_name = ${`keyholder ${b.pid} watch keyholder_change`}`;

      const revision = await revoke(holder.grants[0]?.id);
      const after = await gql(b.url, holder.key, LIST);

      expect(dropped?.dropped).toBe(true);
      expectError(after, 'FORBIDDEN', 'requires scope "identities:read"');
      const row = await expectEventually(
        () => lease(b),
        (lease) => lease.live && lease.applied !== null && BigInt(lease.applied) >= revision,
        'the listener back and the lease acknowledging again',
      );
      expect(row.live).toBe(true);
      // Listening again, it is waited for again: a revoke returns once it has applied it.
      const next = await cachedOn(b);
      const nextRevision = await revoke(next.grants[0]?.id);
      expect(BigInt((await lease(b)).applied ?? '0')).toBeGreaterThanOrEqual(nextRevision);
      expectError(await gql(b.url, next.key, LIST), 'FORBIDDEN', 'identities:read');
    });

    it('should wait for an instance whose notifications arrive late, and deny there once it returns', async () => {
      const url = new URL(scratch.url);
      const proxy = await startDelayingProxy(
        { host: url.hostname, port: Number(url.port || 5432) },
        0,
      );
      try {
        const b = await child({}, proxy.urlFor(url.pathname.slice(1)));
        const holder = await cachedOn(b);
        proxy.setDelay(150);

        const revision = await revoke(holder.grants[0]?.id);
        const row = await lease(b);
        proxy.setDelay(0);
        const after = await gql(b.url, holder.key, LIST);

        // Acknowledged (not let run out): b kept its lease through the delay.
        expect(row.live).toBe(true);
        expect(BigInt(row.applied ?? '0')).toBeGreaterThanOrEqual(revision);
        expectError(after, 'FORBIDDEN', 'requires scope "identities:read"');
      } finally {
        await proxy.close();
      }
    });

    it('should wait for a live lease behind it until it runs out, and never for one that reads through', async () => {
      const holder = await identityWithGrants(a, ['identities:read']);
      const revisionNow = await head();
      // A hundred rows as a hundred instances could leave them: fifty gone long ago, forty-nine
      // reading through (their listener broke), and one live and behind that nobody renews.
      await sql`insert into instance_leases (id, expires_at, applied_revision, process)
        select gen_random_uuid(),
          case when n % 2 = 0 then now() - interval '1 minute'
            when n = 1 then now() + interval '300 milliseconds'
            else now() + interval '1 hour' end,
          case when n % 2 = 0 or n = 1 then ${String(revisionNow)}::bigint else null end,
          'simulated:' || n
        from generate_series(1, 100) n`;

      await revoke(holder.grants[0]?.id);
      const [behind] = await sql<{ live: boolean }[]>`
        select expires_at > now() as live from instance_leases where process = 'simulated:1'`;
      await sql`delete from instance_leases where process like 'simulated:%'`;

      expect(behind?.live).toBe(false);
      // Had it waited for the rows reading through, it would have given up on them and said so.
      expect(a.logs.filter((line) => line.message.includes('acknowledged'))).toEqual([]);
    });
  },
);

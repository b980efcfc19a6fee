/**
 * Revocation across instances: for each count in `INSTANCES` (default 1,2,8), that many Keyholder
 * processes on one fresh PostgreSQL database, then `RACES` races (default 1,000): grant
 * `identities:read` on instance i, make instance j cache the holder's authentication, revoke on
 * instance i (timed: the mutation waits until every instance has applied the revocation), and
 * right after it returns ask instance j. Reports the revoking mutation's latency (p50/p95/p99), the
 * grant's, and the stale allows (a request on j allowed after the revoke returned): must be 0.
 * Usage: npm run build && DATABASE_URL=postgres://… npm run bench:revocation
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { percentile } from './percentile.js';
import { graphqlData, postGraphql } from './post-graphql.js';

const COUNTS = (process.env.INSTANCES ?? '1,2,8').split(',').map(Number);
const RACES = Number(process.env.RACES ?? 1000);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const LIST = '{ identities(first: 1) { nodes { id } } }';
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'revocation needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
const ms = (value: number) => value.toFixed(1);

interface Result {
  readonly instances: number;
  readonly revoke: number[];
  readonly grant: number[];
  readonly stale: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
}

async function run(count: number): Promise<Result> {
  const database = `kh_bench_revocation_${Date.now()}`;
  const admin = postgres(adminUrl as string, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${database}`);
  const url = new URL(adminUrl as string);
  url.pathname = `/${database}`;
  const children: KeyholderProcess[] = [];
  try {
    for (let i = 0; i < count; i += 1)
      children.push(await startKeyholderProcess(url.href, ADMIN_KEY));
    const urls = children.map((child) => child.url);
    const first = urls[0] as string;
    const made = await graphqlData(
      first,
      ADMIN_KEY,
      'mutation($n: String!) { createIdentity(input: { name: $n, kind: SERVICE }) { id } }',
      { n: `revocation-holder-${count}` },
    );
    const holder = made.createIdentity.id as string;
    const key = await graphqlData(
      first,
      ADMIN_KEY,
      'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "bench" }) { secret } }',
      { id: holder },
    );
    const secret = key.createApiKey.secret as string;
    const loadBefore = load();
    const revoke: number[] = [];
    const grant: number[] = [];
    let stale = 0;
    for (let race = 0; race < RACES; race += 1) {
      const revoker = urls[race % count] as string;
      const asker = urls[(race + 1) % count] as string;
      const grantStarted = performance.now();
      const given = await graphqlData(
        revoker,
        ADMIN_KEY,
        'mutation($id: ID!) { grant(input: { identityId: $id, scope: "identities:read", reason: "Race." }) { id } }',
        { id: holder },
      );
      grant.push(performance.now() - grantStarted);
      // Cached on the asker: the grant has returned, so the asker has applied it.
      for (let i = 0; i < 2; i += 1) {
        const warm = await postGraphql(asker, secret, LIST);
        if (warm.errors)
          throw new Error(
            `the holder was refused before the revoke: ${JSON.stringify(warm.errors)}`,
          );
      }
      const revokeStarted = performance.now();
      await graphqlData(
        revoker,
        ADMIN_KEY,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Race over.") { id } }',
        { id: given.grant.id },
      );
      revoke.push(performance.now() - revokeStarted);
      const after = await postGraphql(asker, secret, LIST);
      if (!after.errors) stale += 1;
    }
    return { instances: count, revoke, grant, stale, loadBefore, loadAfter: load() };
  } finally {
    await Promise.all(children.map(stopKeyholderProcess));
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  }
}

console.log(`bench:revocation — ${RACES} races per instance count (load average ${load()})`);
console.log(
  'instances  revoke p50  p95     p99     grant p50  p99     stale allows  load before → after',
);
for (const count of COUNTS) {
  const result = await run(count);
  console.log(
    [
      String(result.instances).padEnd(10),
      `${ms(percentile(result.revoke, 50))} ms`.padEnd(11),
      `${ms(percentile(result.revoke, 95))} ms`.padEnd(7),
      `${ms(percentile(result.revoke, 99))} ms`.padEnd(7),
      `${ms(percentile(result.grant, 50))} ms`.padEnd(10),
      `${ms(percentile(result.grant, 99))} ms`.padEnd(7),
      String(result.stale).padEnd(13),
      `${result.loadBefore} → ${result.loadAfter}`,
    ].join(' '),
  );
  if (result.stale > 0) process.exitCode = 1;
}

/**
 * Expiry records under load: two Keyholder processes on one PostgreSQL database, `GRANTS` grants
 * (default 1,000) expiring over `SPREAD_MS` (default 20 s) while `CONCURRENCY` loops (default 16)
 * send `check` to both instances. Reports how late each `grant.expired` event was written
 * (`audit_events.at − grants.expires_at`, both on the database's clock) at p50/p95/p99/max,
 * duplicates, grants never recorded, which instance recorded them, and the check traffic.
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/expiry.js
 */
import postgres from 'postgres';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { percentile } from './percentile.js';
import { graphqlData, postGraphql } from './post-graphql.js';

const GRANTS = Number(process.env.GRANTS ?? 1000);
const SPREAD_MS = Number(process.env.SPREAD_MS ?? 20_000);
const LEAD_MS = Number(process.env.LEAD_MS ?? 3000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const HOLDERS = 50;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('expiry needs DATABASE_URL (a PostgreSQL server where it may create a database).');
  process.exit(2);
}

const database = `kh_bench_expiry_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const url = new URL(adminUrl);
url.pathname = `/${database}`;
const db = postgres(url.href, { max: 2, onnotice: () => {} });
const children: KeyholderProcess[] = [];
try {
  const a = await startKeyholderProcess(url.href, ADMIN_KEY);
  children.push(a);
  const b = await startKeyholderProcess(url.href, ADMIN_KEY);
  children.push(b);
  const instances = [a.url, b.url];

  const scope = `bench.expiry${Date.now()}:read`;
  await graphqlData(
    a.url,
    ADMIN_KEY,
    'mutation($n: String!) { defineScope(input: { name: $n }) { name } }',
    {
      n: scope,
    },
  );
  const holders: string[] = [];
  for (let i = 0; i < HOLDERS; i += 1) {
    const made = await graphqlData(
      instances[i % 2] as string,
      ADMIN_KEY,
      'mutation($n: String!) { createIdentity(input: { name: $n, kind: SERVICE }) { id } }',
      { n: `expiry-holder-${i}` },
    );
    holders.push(made.createIdentity.id as string);
  }

  // Check traffic on both instances for the whole run.
  let running = true;
  let checks = 0;
  let errors = 0;
  const traffic = Array.from({ length: CONCURRENCY }, async (_, loop) => {
    for (let i = loop; running; i += CONCURRENCY) {
      try {
        const answer = await postGraphql(
          instances[i % 2] as string,
          ADMIN_KEY,
          'query($id: ID!, $s: String!) { check(identityId: $id, scope: $s, resource: "r-1") { allowed } }',
          { id: holders[i % HOLDERS], s: scope },
        );
        if (answer.errors) errors += 1;
        else checks += 1;
      } catch {
        errors += 1;
      }
    }
  });
  const trafficStarted = performance.now();

  // Grants made through both instances, 10 at a time, each expiring LEAD_MS + [0, SPREAD_MS) from
  // when it is made: they fall due while more are still being made and checks run.
  const grantIds: string[] = [];
  for (let i = 0; i < GRANTS; i += 10) {
    const batch = Array.from({ length: Math.min(10, GRANTS - i) }, (_, j) => i + j);
    const made = await Promise.all(
      batch.map((n) =>
        graphqlData(
          instances[n % 2] as string,
          ADMIN_KEY,
          `mutation($input: GrantInput!) { grant(input: $input) { id } }`,
          {
            input: {
              identityId: holders[n % HOLDERS],
              scope,
              resource: `r-${Math.floor(n / HOLDERS)}`,
              reason: 'Expiry benchmark.',
              expiresAt: new Date(Date.now() + LEAD_MS + Math.random() * SPREAD_MS).toISOString(),
            },
          },
        ),
      ),
    );
    for (const m of made) grantIds.push(m.grant.id as string);
  }
  const madeAt = performance.now();

  // Wait until every grant has fallen due and been recorded (or 30 s past the last expiry).
  const [last] = await db<
    { at: Date }[]
  >`select max(expires_at) as at from grants where id = any(${grantIds})`;
  const deadline = (last?.at.getTime() ?? Date.now()) + 30_000;
  for (;;) {
    const [row] = await db<{ n: number }[]>`
      select count(distinct subject_id)::int as n from audit_events
      where action = 'grant.expired' and subject_id = any(${grantIds})`;
    if ((row?.n ?? 0) >= GRANTS || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(traffic);
  const trafficSeconds = (performance.now() - trafficStarted) / 1000;

  const lags = await db<{ subject_id: string; lag_ms: number }[]>`
    select e.subject_id, (extract(epoch from (e.at - g.expires_at)) * 1000)::float8 as lag_ms
    from audit_events e join grants g on g.id::text = e.subject_id
    where e.action = 'grant.expired' and e.subject_id = any(${grantIds})`;
  const values = lags.map((l) => Number(l.lag_ms));
  const distinct = new Set(lags.map((l) => l.subject_id)).size;
  const recordedBy = await Promise.all(
    instances.map(async (u) => {
      // The detail of /healthz is for system:read holders (the admin is one).
      const health = (await (
        await fetch(`${u}/healthz`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
      ).json()) as {
        expirySweeper: { recorded: number } | null;
      };
      return health.expirySweeper?.recorded ?? 0;
    }),
  );

  console.log(
    `\ngrant.expired lag (event at − expiresAt), ${GRANTS} grants expiring over ${SPREAD_MS / 1000} s, two instances, ${CONCURRENCY} check loops:`,
  );
  console.log(
    `  p50 ${percentile(values, 50).toFixed(1)} ms  p95 ${percentile(values, 95).toFixed(1)} ms  p99 ${percentile(values, 99).toFixed(1)} ms  max ${Math.max(...values).toFixed(1)} ms  (over 1000 ms: ${values.filter((v) => v >= 1000).length})`,
  );
  console.log(
    `  events ${lags.length}, grants recorded ${distinct}, duplicates ${lags.length - distinct}, never recorded ${GRANTS - distinct}`,
  );
  console.log(`  recorded by A ${recordedBy[0]}, by B ${recordedBy[1]}`);
  console.log(
    `  grants made in ${((madeAt - trafficStarted) / 1000).toFixed(1)} s; check traffic ${(checks / trafficSeconds).toFixed(0)} req/s over ${trafficSeconds.toFixed(1)} s, ${errors} errors`,
  );
} finally {
  for (const child of children) await stopKeyholderProcess(child);
  await db.end();
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

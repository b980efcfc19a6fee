/**
 * `check` over HTTP on PostgreSQL, strict revocation, against plain Apollo Server baselines in the
 * same run (see scripts/bench/README.md). Needs DATABASE_URL pointing at a PostgreSQL server it may
 * create a database on. Usage: npm run build && node dist/scripts/bench/check-throughput.js
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import {
  CONNECTIONS,
  gql,
  load,
  median,
  ROUNDS,
  SECONDS,
  startChild,
  stopChild,
} from './http-load.js';

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'check-throughput needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

const database = `kh_bench_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${database}`;

const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const baseline = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const children: ChildProcess[] = [];
try {
  const keyholder = await startChild(
    main,
    {
      PORT: '0',
      DATABASE_URL: benchUrl.href,
      BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      NODE_ENV: 'production',
      ...BENCH_AUDIT_ENV,
    },
    /listening on (\S+\/graphql)/,
  );
  children.push(keyholder.child);
  const url = keyholder.url;

  const gateway = await gql(
    url,
    ADMIN_KEY,
    'mutation { createIdentity(input: { name: "gateway", kind: SERVICE }) { id } }',
  );
  const alice = await gql(
    url,
    ADMIN_KEY,
    'mutation { createIdentity(input: { name: "alice", kind: USER, externalId: "00u-alice" }) { id } }',
  );
  const gatewayId = gateway.createIdentity.id as string;
  const aliceId = alice.createIdentity.id as string;
  await gql(url, ADMIN_KEY, 'mutation { defineScope(input: { name: "orders:read" }) { name } }');
  await gql(
    url,
    ADMIN_KEY,
    `mutation { grant(input: { identityId: "${gatewayId}", scope: "grants:read", reason: "bench" }) { id } }`,
  );
  await gql(
    url,
    ADMIN_KEY,
    `mutation { grant(input: { identityId: "${gatewayId}", scope: "decisions:execute", reason: "bench" }) { id } }`,
  );
  await gql(
    url,
    ADMIN_KEY,
    `mutation { grant(input: { identityId: "${aliceId}", scope: "orders:read", reason: "bench" }) { id } }`,
  );
  const key = (
    await gql(
      url,
      ADMIN_KEY,
      `mutation { createApiKey(input: { identityId: "${gatewayId}", name: "bench" }) { secret } }`,
    )
  ).createApiKey.secret as string;

  const query =
    'query Check($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed reason } }';
  const body = JSON.stringify({
    query,
    variables: { id: aliceId, scope: 'orders:read' },
    operationName: 'Check',
  });
  // The same question over AuthZEN: one evaluation, and 100 for one subject in one request.
  const evaluation = {
    subject: { type: 'user', id: '00u-alice' },
    action: { name: 'orders:read' },
    resource: { type: 'order', id: 'ord-1' },
  };
  const authzenBody = JSON.stringify(evaluation);
  const BATCH = 100;
  const batchBody = JSON.stringify({
    subject: evaluation.subject,
    action: evaluation.action,
    evaluations: Array.from({ length: BATCH }, (_, i) => ({
      resource: { type: 'order', id: `ord-${i}` },
    })),
  });
  const authzenUrl = (path: string) => url.replace(/\/graphql$/, path);
  const answer = await gql(url, key, query, { id: aliceId, scope: 'orders:read' });
  if (answer.check.allowed !== true)
    throw new Error('Keyholder did not allow the benchmark check.');

  const baselineOf = (env: Record<string, string>) =>
    startChild(baseline, { NODE_ENV: 'production', ...BENCH_AUDIT_ENV, ...env }, /ready (\S+)/);
  const standalone = await baselineOf({
    BASELINE: 'postgres',
    BASELINE_HTTP: 'standalone',
    DATABASE_URL: benchUrl.href,
  });
  const withExpress = await baselineOf({ BASELINE: 'postgres', DATABASE_URL: benchUrl.href });
  const noDb = await baselineOf({ BASELINE: 'memory', BASELINE_HTTP: 'standalone' });
  // The same Keyholder with access events switched off: what writing one per check costs.
  const unlogged = await startChild(
    main,
    {
      PORT: '0',
      DATABASE_URL: benchUrl.href,
      NODE_ENV: 'production',
      ...BENCH_AUDIT_ENV,
      ACCESS_LOG: 'off',
    },
    /listening on (\S+\/graphql)/,
  );
  children.push(standalone.child, withExpress.child, noDb.child, unlogged.child);

  const pidOf = (child: ChildProcess) => child.pid as number;
  const logged = {
    name: 'keyholder check (auth + grants + answer, strict)',
    url,
    key,
    pid: pidOf(keyholder.child),
  };
  const off = {
    name: 'keyholder check, access logging off',
    url: unlogged.url,
    key,
    pid: pidOf(unlogged.child),
  };
  const target = {
    name: 'plain Apollo (standalone), one indexed PostgreSQL lookup',
    url: standalone.url,
    key: null,
    pid: pidOf(standalone.child),
  };
  const single = {
    name: 'keyholder AuthZEN evaluation (one decision)',
    url: authzenUrl('/access/v1/evaluation'),
    key,
    pid: pidOf(keyholder.child),
    body: authzenBody,
  };
  const batch = {
    name: `keyholder AuthZEN evaluations (${BATCH} decisions)`,
    url: authzenUrl('/access/v1/evaluations'),
    key,
    pid: pidOf(keyholder.child),
    body: batchBody,
  };
  const variants: {
    name: string;
    url: string;
    key: string | null;
    pid: number;
    body?: string;
  }[] = [
    logged,
    single,
    batch,
    target,
    {
      name: 'plain Apollo (express 5), one indexed PostgreSQL lookup',
      url: withExpress.url,
      key: null,
      pid: pidOf(withExpress.child),
    },
    {
      name: 'plain Apollo (standalone), no database',
      url: noDb.url,
      key: null,
      pid: pidOf(noDb.child),
    },
    off,
  ];
  const backends = async () =>
    (
      await admin.unsafe<{ pid: number }[]>('select pid from pg_stat_activity where datname = $1', [
        database,
      ])
    ).map((row) => row.pid);
  for (const v of variants) await load(v, v.body ?? body, backends); // warm-up, discarded
  type Runs = { rps: number[]; serverUs: number[]; databaseUs: number[]; errors: number };
  const results = new Map<string, Runs>(
    variants.map((v) => [v.name, { rps: [], serverUs: [], databaseUs: [], errors: 0 }]),
  );
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const r = await load(v, v.body ?? body, backends);
      const entry = results.get(v.name) as Runs;
      entry.rps.push(r.rps);
      entry.serverUs.push(r.serverUs);
      entry.databaseUs.push(r.databaseUs);
      entry.errors += r.errors;
    }
  }
  const khRps = results.get(logged.name)?.rps ?? [];
  const kh = median(khRps);
  console.log(
    `\ncheck over HTTP, ${ROUNDS} rounds × ${SECONDS}s, ${CONNECTIONS} connections, medians` +
      ' (CPU: µs per request of the server process and of its database backends):',
  );
  for (const v of variants) {
    const r = results.get(v.name) as Runs;
    const m = median(r.rps);
    // Each round measures every server back to back, so the ratio within a round shares its load.
    const perRound = median(r.rps.map((rps, round) => (khRps[round] as number) / rps));
    console.log(
      `  ${v.name.padEnd(58)} ${m.toFixed(0).padStart(6)} req/s  errors ${r.errors}  keyholder ratio ${(kh / m).toFixed(2)}× (median of rounds ${perRound.toFixed(2)}×)  CPU ${median(r.serverUs).toFixed(0)} + ${median(r.databaseUs).toFixed(0)} µs`,
    );
  }
  const targetRps = median(results.get(target.name)?.rps ?? []);
  console.log(
    `  target: keyholder / plain Apollo (standalone) with one lookup ≥ 0.90×: ${(kh / targetRps).toFixed(2)}×`,
  );
  const singleRps = results.get(single.name)?.rps ?? [];
  console.log(
    `  target: AuthZEN evaluation / check over GraphQL ≥ 0.90×: ${(median(singleRps) / kh).toFixed(2)}× (median of rounds ${median(singleRps.map((rps, round) => rps / (khRps[round] as number))).toFixed(2)}×)`,
  );
  const batchRps = median(results.get(batch.name)?.rps ?? []);
  console.log(
    `  AuthZEN batches: ${batchRps.toFixed(0)} req/s × ${BATCH} = ${(batchRps * BATCH).toFixed(0)} decisions/s`,
  );
  // Every request after the first is served from the authentication cache while nothing changes
  // (access events do not advance the revision); /healthz counts both kinds.
  for (const v of [logged, off]) {
    // The detail of /healthz is for system:read holders (the admin is one).
    const health = (await (
      await fetch(v.url.replace(/\/graphql$/, '/healthz'), {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      })
    ).json()) as {
      authenticationCache?: { hits: number; misses: number } | null;
    };
    const stats = health.authenticationCache;
    if (stats === null || stats === undefined) continue;
    const missRate = (100 * stats.misses) / Math.max(1, stats.hits + stats.misses);
    console.log(
      `  ${v.name}: authentication cache hits ${stats.hits}, misses ${stats.misses} (${missRate.toFixed(3)} % of requests)`,
    );
  }
  const bench = postgres(benchUrl.href, { max: 1, onnotice: () => {} });
  const [written] = await bench.unsafe(
    `select count(*)::int as n from audit_events where action like 'access.%'`,
  );
  await bench.end();
  const offRps = median(results.get(off.name)?.rps ?? []);
  console.log(
    `  access logging on/off: ${(kh / offRps).toFixed(2)}× (target ≥ 0.90); access events written: ${written?.n}`,
  );
} finally {
  for (const child of children) await stopChild(child).catch(() => {});
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

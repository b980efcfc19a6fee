/**
 * `check` over HTTP on PostgreSQL (and the same Keyholder on embedded PGlite), strict revocation,
 * against plain Apollo Server baselines in the same run, with where the time goes (Node and PostgreSQL CPU, statements per request) and a
 * grants-held axis (see scripts/bench/README.md). Needs DATABASE_URL pointing at a PostgreSQL
 * server it may create a database on. Usage: npm run build && node dist/scripts/bench/check-throughput.js
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { openDatabase } from '../../src/db/client.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { AuditKeys } from '../../src/modules/audit/audit-keys.js';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import { CHECK_QUERY, seedCheck } from './check-cast.js';
import { seedHeldGrants } from './growth-seed.js';
import {
  CONNECTIONS,
  gql,
  type LoadResult,
  load,
  median,
  ROUNDS,
  SECONDS,
  startChild,
  statementsSent,
  stopChild,
} from './http-load.js';

/** The grants held by the caller on the grants-held axis. */
const GRANTS_HELD = (process.env.GRANTS_HELD ?? '1,100,1000,5000').split(',').map(Number);
const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'check-throughput needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

// The seeded grants' events are sealed here, with the keys the servers run with.
useAuditKeys(
  AuditKeys.fromSettings({
    hmacKey: BENCH_AUDIT_ENV.AUDIT_HMAC_KEY,
    signingKey: BENCH_AUDIT_ENV.AUDIT_SIGNING_KEY,
  }),
);

const database = `kh_bench_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${database}`;

const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const baseline = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const children: ChildProcess[] = [];
let embeddedDir: string | undefined;
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

  const { key, aliceId } = await seedCheck(url, ADMIN_KEY);

  // The grants-held axis: a caller holding `n` grants (decisions:execute through the API, and
  // n − 1 grants of orders:read on distinct resources seeded as the API writes them).
  const seeding = await openDatabase({ databaseUrl: benchUrl.href, dataDir: '', poolSize: 2 });
  const holders: { held: number; key: string; id: string }[] = [];
  for (const held of GRANTS_HELD) {
    const holderId = (
      await gql(
        url,
        ADMIN_KEY,
        `mutation { createIdentity(input: { name: "holder-${held}", kind: SERVICE }) { id } }`,
      )
    ).createIdentity.id as string;
    await gql(
      url,
      ADMIN_KEY,
      `mutation { grant(input: { identityId: "${holderId}", scope: "decisions:execute", reason: "bench" }) { id } }`,
    );
    await seedHeldGrants(seeding, holderId, 'orders:read', held - 1);
    const holderKey = (
      await gql(
        url,
        ADMIN_KEY,
        `mutation { createApiKey(input: { identityId: "${holderId}", name: "holder" }) { secret } }`,
      )
    ).createApiKey.secret as string;
    holders.push({ held, key: holderKey, id: holderId });
  }
  await seeding.close();

  const query = CHECK_QUERY;
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
  // The same Keyholder with no authentication cache: every request loads its caller's grants.
  const uncached = await startChild(
    main,
    {
      PORT: '0',
      DATABASE_URL: benchUrl.href,
      NODE_ENV: 'production',
      ...BENCH_AUDIT_ENV,
      AUTHENTICATION_CACHE_SIZE: '0',
    },
    /listening on (\S+\/graphql)/,
  );
  // The same Keyholder on the embedded database (PGlite, in its own directory), seeded alike.
  embeddedDir = await mkdtemp(join(tmpdir(), 'kh-bench-check-'));
  const embedded = await startChild(
    main,
    {
      PORT: '0',
      DATABASE_URL: '',
      DATA_DIR: embeddedDir,
      BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      NODE_ENV: 'production',
      ...BENCH_AUDIT_ENV,
    },
    /listening on (\S+\/graphql)/,
  );
  children.push(
    standalone.child,
    withExpress.child,
    noDb.child,
    unlogged.child,
    uncached.child,
    embedded.child,
  );
  const embeddedCast = await seedCheck(embedded.url, ADMIN_KEY);
  const embeddedAnswer = await gql(embedded.url, embeddedCast.key, query, {
    id: embeddedCast.aliceId,
    scope: 'orders:read',
  });
  if (embeddedAnswer.check.allowed !== true)
    throw new Error('Keyholder on PGlite did not allow the benchmark check.');

  const pidOf = (child: ChildProcess) => child.pid as number;
  const counted = (graphqlUrl: string) => () => statementsSent(graphqlUrl, ADMIN_KEY);
  const logged = {
    name: 'keyholder check (auth + grants + answer, strict)',
    url,
    key,
    pid: pidOf(keyholder.child),
    statements: counted(url),
  };
  const off = {
    name: 'keyholder check, access logging off',
    url: unlogged.url,
    key,
    pid: pidOf(unlogged.child),
    statements: counted(unlogged.url),
  };
  const onPglite = {
    name: 'keyholder check on PGlite (embedded)',
    url: embedded.url,
    key: embeddedCast.key,
    pid: pidOf(embedded.child),
    body: JSON.stringify({
      query,
      variables: { id: embeddedCast.aliceId, scope: 'orders:read' },
      operationName: 'Check',
    }),
    statements: counted(embedded.url),
  };
  const cacheOff = {
    name: 'keyholder check, authentication cache off',
    url: uncached.url,
    key,
    pid: pidOf(uncached.child),
    statements: counted(uncached.url),
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
    statements: counted(url),
  };
  const batch = {
    name: `keyholder AuthZEN evaluations (${BATCH} decisions)`,
    url: authzenUrl('/access/v1/evaluations'),
    key,
    pid: pidOf(keyholder.child),
    body: batchBody,
    statements: counted(url),
  };
  type Variant = {
    name: string;
    url: string;
    key: string | null;
    pid: number;
    body?: string;
    statements?: () => Promise<number>;
  };
  const variants: Variant[] = [
    logged,
    onPglite,
    cacheOff,
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
  // The grants-held axis: each holder asks about itself (so the grants it holds are both the
  // caller's and the subject's), served from the authentication cache (hit) and by the Keyholder
  // without one (miss: its grants loaded on every request).
  const axis: Variant[] = holders.flatMap(({ held, key: holderKey, id }) => {
    const own = JSON.stringify({
      query,
      variables: { id, scope: 'decisions:execute' },
      operationName: 'Check',
    });
    return [
      { ...logged, name: `holding ${held} grants, cache hit`, key: holderKey, body: own },
      { ...cacheOff, name: `holding ${held} grants, cache miss`, key: holderKey, body: own },
    ];
  });
  // PGlite runs inside its Keyholder's process: no PostgreSQL backend works for it.
  const backendsOf = (v: Variant) => (v === onPglite ? async () => [] : backends);
  console.log(`load average at start: ${loadAverage()}`);
  for (const v of [...variants, ...axis]) await load(v, v.body ?? body, backendsOf(v)); // warm-up
  type Runs = { runs: LoadResult[]; errors: number };
  const results = new Map<string, Runs>(
    [...variants, ...axis].map((v) => [v.name, { runs: [], errors: 0 }]),
  );
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of [...order, ...axis]) {
      const r = await load(v, v.body ?? body, backendsOf(v));
      const entry = results.get(v.name) as Runs;
      entry.runs.push(r);
      entry.errors += r.errors;
    }
  }
  const of = (name: string, field: keyof Omit<LoadResult, 'statements' | 'errors'>) =>
    median((results.get(name) as Runs).runs.map((r) => r[field]));
  const khRps = (results.get(logged.name) as Runs).runs.map((r) => r.rps);
  const kh = median(khRps);
  const noDbName = 'plain Apollo (standalone), no database';
  const noDbUs = of(noDbName, 'serverUs');
  const row = (v: Variant, ratioTo: number[]) => {
    const r = results.get(v.name) as Runs;
    const rps = r.runs.map((run) => run.rps);
    // Each round measures every server back to back, so the ratio within a round shares its load.
    const perRound = median(rps.map((value, round) => value / (ratioTo[round] as number)));
    const statements = r.runs.map((run) => run.statements);
    const perRequest = statements.includes(null)
      ? '   —'
      : median(statements as number[]).toFixed(3);
    return `  ${v.name.padEnd(58)} ${median(rps).toFixed(0).padStart(6)} req/s ${perRound.toFixed(2).padStart(5)}×  p50/p99 ${of(v.name, 'p50Ms').toFixed(0).padStart(3)}/${of(v.name, 'p99Ms').toFixed(0).padStart(4)} ms  CPU Node ${of(v.name, 'serverUs').toFixed(0).padStart(5)} µs (${(of(v.name, 'serverUs') / noDbUs).toFixed(2)}×) + PostgreSQL ${of(v.name, 'databaseUs').toFixed(0).padStart(5)} µs  statements ${perRequest}  errors ${r.errors}`;
  };
  console.log(
    `\ncheck over HTTP, ${ROUNDS} rounds × ${SECONDS}s, ${CONNECTIONS} connections, medians; ` +
      'ratios: req/s to plain Apollo with no database in the same round; CPU µs per request of ' +
      'the server process (its ratio to plain Apollo with no database) and of its database backends; ' +
      'statements per request from the server’s /metrics:',
  );
  const noDbRps = (results.get(noDbName) as Runs).runs.map((r) => r.rps);
  for (const v of variants) console.log(row(v, noDbRps));
  console.log('\ngrants held by the caller (ratio: req/s to the 1-grant caller, same kind):');
  for (const v of axis) {
    const hit = v.name.endsWith('hit');
    const first = axis.find((a) => a.name.endsWith(hit ? 'hit' : 'miss')) as Variant;
    console.log(
      row(
        v,
        (results.get(first.name) as Runs).runs.map((r) => r.rps),
      ),
    );
  }
  for (const kind of ['hit', 'miss']) {
    const named = axis.filter((a) => a.name.endsWith(kind)).map((a) => of(a.name, 'serverUs'));
    const most = GRANTS_HELD.at(-1);
    console.log(
      `  Node CPU per request, ${most} grants / 1 grant, cache ${kind}: ${((named.at(-1) as number) / (named[0] as number)).toFixed(2)}× (target ≤ ${kind === 'hit' ? '1.3' : '3'}×)`,
    );
  }
  const targetRps = median((results.get(target.name) as Runs).runs.map((r) => r.rps));
  console.log(
    `  target: keyholder / plain Apollo (standalone) with no database ≥ 0.85×: ${(kh / median(noDbRps)).toFixed(2)}×; Node CPU ≤ 1.2×: ${(of(logged.name, 'serverUs') / noDbUs).toFixed(2)}×`,
  );
  console.log(
    `  keyholder / plain Apollo (standalone) with one lookup: ${(kh / targetRps).toFixed(2)}×`,
  );
  console.log(
    `  target on PGlite: keyholder / plain Apollo (standalone) with no database ≥ 0.85×: ${(of(onPglite.name, 'rps') / median(noDbRps)).toFixed(2)}×; Node CPU ≤ 1.2×: ${(of(onPglite.name, 'serverUs') / noDbUs).toFixed(2)}× (PGlite runs in the Node process)`,
  );
  const singleRps = (results.get(single.name) as Runs).runs.map((r) => r.rps);
  console.log(
    `  target: AuthZEN evaluation / check over GraphQL ≥ 0.90×: ${(median(singleRps) / kh).toFixed(2)}× (median of rounds ${median(singleRps.map((rps, round) => rps / (khRps[round] as number))).toFixed(2)}×)`,
  );
  const batchRps = of(batch.name, 'rps');
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
  const offRps = of(off.name, 'rps');
  console.log(
    `  access logging on/off: ${(kh / offRps).toFixed(2)}× (target ≥ 0.90); access events written: ${written?.n}`,
  );
  console.log(`load average at the end: ${loadAverage()}`);
} finally {
  for (const child of children) await stopChild(child).catch(() => {});
  if (embeddedDir !== undefined) await rm(embeddedDir, { recursive: true, force: true });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

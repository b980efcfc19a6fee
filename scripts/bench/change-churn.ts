/**
 * What a change costs the callers it did not touch (issue 22, item 3): `CALLERS` identities, each
 * with a key and one grant, ask `check` about themselves; between rounds the admin creates an
 * unrelated identity (one change, one new revision). Before the change journal every such change
 * made every cached authentication miss once; with it, an entry no change touched is carried
 * forward without a statement. Builds listed in `BUILDS` (default `dist`; e.g.
 * `BUILDS=/tmp/before/dist,dist` for an older build) run one after the other, each as its own
 * Keyholder process on a database of its own: a scratch database next to `DATABASE_URL`'s, created
 * and dropped here (PGlite in memory when unset). Reported per build: requests,
 * authentication-cache misses and carried hits per request (from `/healthz` on `METRICS_PORT`),
 * statements per request (`/metrics`), and the Keyholder process's CPU per request from `/proc`,
 * with the load average.
 *
 * Usage: npm run build && [DATABASE_URL=postgres://…/fresh_db] npm run bench:change-churn
 * (`CALLERS` 50, `ROUNDS` 20).
 */
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { startKeyholderProcess, stopKeyholderProcess } from './keyholder-process.js';
import { graphqlData, postGraphql } from './post-graphql.js';
import { cpuSeconds } from './proc-cpu.js';

const CALLERS = Number(process.env.CALLERS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const BUILDS = (process.env.BUILDS ?? 'dist').split(',');
const ADMIN_KEY = 'kh_bench_churn_admin_key_0123456789abcdef0123456789abcdef';
const CHECK =
  'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }';

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Counters {
  readonly hits: number;
  readonly misses: number;
  readonly carried: number;
  readonly statements: number;
}

async function counters(metricsUrl: string): Promise<Counters> {
  const health = (await (await fetch(`${metricsUrl}/healthz`)).json()) as {
    authenticationCache: { hits: number; misses: number; carried?: number };
  };
  const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
  const statements = /^keyholder_database_statements_total (\d+)/m.exec(metrics);
  return {
    hits: health.authenticationCache.hits,
    misses: health.authenticationCache.misses,
    carried: health.authenticationCache.carried ?? 0,
    statements: statements ? Number(statements[1]) : Number.NaN,
  };
}

/** A scratch database beside `DATABASE_URL`'s for one build (none on PGlite), and its drop. */
async function scratchDatabase(
  index: number,
): Promise<{ url: string | null; drop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (base === undefined) return { url: null, drop: async () => {} };
  const name = `kh_churn_${process.pid}_${index}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

async function run(build: string, index: number): Promise<string> {
  const metricsPort = await freePort();
  const database = await scratchDatabase(index);
  const keyholder = await startKeyholderProcess(
    database.url,
    ADMIN_KEY,
    {
      METRICS_PORT: String(metricsPort),
      DATA_DIR: 'memory://',
      EXPIRY_SWEEPER: 'off',
    },
    join(resolve(build), 'src/main.js'),
  );
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  try {
    const { url } = keyholder;
    const scope = `bench.churn${Date.now().toString(36)}:read`;
    await graphqlData(
      url,
      ADMIN_KEY,
      'mutation($n: String!) { defineScope(input: { name: $n }) { name } }',
      {
        n: scope,
      },
    );
    const callers: { id: string; key: string }[] = [];
    for (let i = 0; i < CALLERS; i += 1) {
      const made = await graphqlData(
        url,
        ADMIN_KEY,
        `mutation($name: String!) { createIdentity(input: { name: $name, kind: SERVICE }) { id } }`,
        { name: `churn-${build}-${i}-${Date.now()}` },
      );
      const id = made.createIdentity.id as string;
      const key = await graphqlData(
        url,
        ADMIN_KEY,
        'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "bench" }) { secret } }',
        { id },
      );
      await graphqlData(
        url,
        ADMIN_KEY,
        'mutation($id: ID!, $scope: String!) { grant(input: { identityId: $id, scope: $scope, reason: "Bench." }) { id } }',
        { id, scope },
      );
      callers.push({ id, key: key.createApiKey.secret as string });
    }
    const ask = async () => {
      const answers = await Promise.all(
        callers.map((caller) => postGraphql(url, caller.key, CHECK, { id: caller.id, scope })),
      );
      for (const answer of answers) {
        if (answer.data?.check?.allowed !== true)
          throw new Error(`unexpected answer: ${JSON.stringify(answer)}`);
      }
    };
    await ask();
    await ask();
    const before = await counters(metricsUrl);
    const cpuBefore = cpuSeconds(keyholder.child.pid as number);
    for (let round = 0; round < ROUNDS; round += 1) {
      await graphqlData(
        url,
        ADMIN_KEY,
        `mutation($name: String!) { createIdentity(input: { name: $name, kind: USER }) { id } }`,
        { name: `churn-bystander-${build}-${round}-${Date.now()}` },
      );
      await ask();
    }
    const cpu = cpuSeconds(keyholder.child.pid as number) - cpuBefore;
    const after = await counters(metricsUrl);
    // The admin's changes are requests too (one per round), and its authentication is cached.
    const requests = ROUNDS * (CALLERS + 1);
    const perRequest = (value: number) => (value / requests).toFixed(3);
    return [
      build.padEnd(20),
      String(requests).padStart(8),
      perRequest(after.misses - before.misses).padStart(10),
      perRequest(after.carried - before.carried).padStart(10),
      perRequest(after.statements - before.statements).padStart(12),
      ((cpu * 1e6) / requests).toFixed(0).padStart(10),
    ].join(' ');
  } finally {
    await stopKeyholderProcess(keyholder);
    await database.drop();
  }
}

async function main(): Promise<void> {
  const loadBefore = load();
  const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
  console.log(
    `change churn on ${engine}: ${CALLERS} callers, ${ROUNDS} rounds of (one unrelated change, one request per caller); load ${loadBefore}`,
  );
  console.log(
    `${'build'.padEnd(20)} ${'requests'.padStart(8)} ${'misses/req'.padStart(10)} ${'carried/req'.padStart(10)} ${'statements/req'.padStart(12)} ${'µs CPU/req'.padStart(10)}`,
  );
  for (const [index, build] of BUILDS.entries()) console.log(await run(build, index));
  console.log(
    `load average after: ${load()} (requests include the admin's changes, one per round; statements include the changes' own)`,
  );
}

await main();

/**
 * Profiles Keyholder serving `check` (the `bench:check` workload) for `SECONDS` (default 10): starts
 * it with `--cpu-prof` into `PROFILE_DIR` (default /tmp/keyholder-prof), loads it with autocannon,
 * stops it with SIGINT so the profile is written (SIGKILL after 20 s), and prints the summary of
 * `cpu-profile-summary`. Needs DATABASE_URL (a server where it may create a database).
 * `ACCESS_LOG=off` profiles without access events.
 * Usage: npm run build && timeout 120 node dist/scripts/bench/profile-check.js
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import { CHECK_QUERY, seedCheck } from './check-cast.js';
import { CONNECTIONS, gql, startChild } from './http-load.js';

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const seconds = Number(process.env.SECONDS ?? 10);
const directory = process.env.PROFILE_DIR ?? '/tmp/keyholder-prof';
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('profile-check needs DATABASE_URL.');
  process.exit(2);
}
mkdirSync(directory, { recursive: true });
const before = new Set(readdirSync(directory));

const database = `kh_prof_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${database}`;
const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
// A server that fails to start still leaves no database behind.
const started = await startChild(
  main,
  {
    PORT: '0',
    DATABASE_URL: benchUrl.href,
    BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    NODE_ENV: 'production',
    ...BENCH_AUDIT_ENV,
  },
  /listening on (\S+\/graphql)/,
  ['--cpu-prof', `--cpu-prof-dir=${directory}`],
).catch(async (error: unknown) => {
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
  throw error;
});
const { child, url } = started;
try {
  const { key, aliceId } = await seedCheck(url, ADMIN_KEY);
  const query = CHECK_QUERY;
  const variables = { id: aliceId, scope: 'orders:read' };
  if ((await gql(url, key, query, variables)).check.allowed !== true) {
    throw new Error('Keyholder did not allow the benchmark check.');
  }
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables, operationName: 'Check' }),
  });
  console.log(
    `${result.requests.total} requests, ${result.requests.average} req/s, errors ${result.errors + result.non2xx}`,
  );
} finally {
  if (child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}
const written = readdirSync(directory).filter((f) => !before.has(f) && f.endsWith('.cpuprofile'));
const summary = fileURLToPath(new URL('./cpu-profile-summary.js', import.meta.url));
for (const file of written) {
  console.log(`\n${join(directory, file)}`);
  console.log(
    execFileSync(process.execPath, [summary, join(directory, file)], { encoding: 'utf8' }),
  );
}

/**
 * Start on the embedded database as it grows (issue 19: PGlite at 10,000 grants and 100,000
 * events starts in under 3 s). Seeds a kept PGlite directory with bench:growth's seed (`GRANTS`
 * grants, 10,000 identities, `TRAFFIC` synthetic events; `REGENERATE=1` starts over), then starts
 * Keyholder on it `RUNS` times, alternating with an empty database (the baseline, measured in the
 * same run): time from spawn to listening, to the first answered request, and RSS.
 * Usage: npm run build && npm run bench:pglite-start
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { openDatabase } from '../../src/db/client.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { AuditKeys } from '../../src/modules/audit/audit-keys.js';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import { seedGrowth } from './growth-seed.js';
import { startKeyholderProcess, stopKeyholderProcess } from './keyholder-process.js';
import { graphqlData } from './post-graphql.js';

const GRANTS = Number(process.env.GRANTS ?? 10_000);
const TRAFFIC = Number(process.env.TRAFFIC ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 3);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const ROOT = process.env.BENCH_DIR ?? '/tmp/kh-bench-pglite-start';
const seeded = `${ROOT}/seeded-${GRANTS}-${TRAFFIC}`;
const empty = `${ROOT}/empty`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

useAuditKeys(
  AuditKeys.fromSettings({
    hmacKey: BENCH_AUDIT_ENV.AUDIT_HMAC_KEY,
    signingKey: BENCH_AUDIT_ENV.AUDIT_SIGNING_KEY,
  }),
);

if (process.env.REGENERATE === '1') rmSync(ROOT, { recursive: true, force: true });
mkdirSync(ROOT, { recursive: true });
if (!existsSync(seeded)) {
  console.log(`seeding ${seeded}: ${GRANTS} grants, ${TRAFFIC} events of traffic`);
  const started = performance.now();
  const database = await openDatabase({ dataDir: seeded, timeoutMs: 3_600_000 });
  try {
    await seedGrowth(database, '', { size: GRANTS, adminKey: ADMIN_KEY, traffic: TRAFFIC });
  } catch (error) {
    await database.close();
    rmSync(seeded, { recursive: true, force: true });
    throw error;
  }
  await database.close();
  console.log(`  seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Starts Keyholder on `dataDir`: ms to listening, ms to the first answer, RSS MiB after it. */
async function start(dataDir: string) {
  const started = performance.now();
  const keyholder = await startKeyholderProcess(null, ADMIN_KEY, { DATA_DIR: dataDir });
  const listening = performance.now() - started;
  try {
    await graphqlData(keyholder.url, ADMIN_KEY, '{ me { id } }');
    const answered = performance.now() - started;
    const status = readFileSync(`/proc/${keyholder.child.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
    return { listening, answered, rss };
  } finally {
    await stopKeyholderProcess(keyholder);
  }
}

if (!existsSync(empty)) await start(empty); // creates the cluster and the admin: not timed
const [counts] = await (async () => {
  const database = await openDatabase({ dataDir: seeded });
  try {
    return await database.query<{ grants: string; events: string }>(
      `select (select count(*) from grants)::text as grants,
              (select count(*) from audit_events)::text as events`,
    );
  } finally {
    await database.close();
  }
})();
console.log(
  `PGlite start, ${RUNS} runs alternating: seeded (${counts?.grants} grants, ${counts?.events} events) and empty; load average ${load()}`,
);
console.log('| run | database | listening ms | first answer ms | RSS MiB |');
console.log('|--:|:--|--:|--:|--:|');
for (let run = 1; run <= RUNS; run += 1) {
  for (const [name, dir] of [
    ['seeded', seeded],
    ['empty', empty],
  ] as const) {
    const r = await start(dir);
    console.log(
      `| ${run} | ${name} | ${r.listening.toFixed(0)} | ${r.answered.toFixed(0)} | ${r.rss.toFixed(0)} |`,
    );
  }
}
console.log(`load average at the end ${load()}`);

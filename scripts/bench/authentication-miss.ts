/**
 * What an authentication costs when it is not cached (a miss), as the grants its caller holds
 * grow: 1, 100, 1,000 and 5,000 (issue 22's target: a miss at 5,000 costs at most 3× one at 1).
 * In one process, on PostgreSQL when `DATABASE_URL` names a fresh database (PGlite in memory
 * otherwise): each holder is an identity with an API key and `HELD` grants seeded as the API
 * writes them; `authenticate` runs without a cache, so every call sends the statement and reads
 * the holder's grants. `BUILDS` (default `dist`) lists build directories to compare in the same
 * run, interleaved round by round (e.g. `BUILDS=dist-before,dist` after copying an older build).
 * Reported per build and holder: this process's CPU per call (Node; PGlite's too when embedded)
 * and, on PostgreSQL, the backend's CPU per call, both from `/proc`, with the load average.
 *
 * Usage: npm run build && DATABASE_URL=postgres://…/fresh_db npm run bench:authentication-miss
 * (`ROUNDS` 3, `SECONDS` 1 per holder and build, `HELD` 1,100,1000,5000).
 */
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { loadAuditKeys } from '../../src/modules/audit/audit-keys.js';
import { bootstrap } from '../../src/modules/identities/bootstrap.js';
import { generateSecret } from '../../src/modules/keys/api-key-secret.js';
import type { authenticate as Authenticate } from '../../src/modules/keys/authenticate.js';
import { seedHeldGrants } from './growth-seed.js';
import { measureCpu } from './proc-cpu.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 1);
const HELD = (process.env.HELD ?? '1,100,1000,5000').split(',').map(Number);
const BUILDS = (process.env.BUILDS ?? 'dist').split(',');
const ADMIN_KEY = 'kh_bench_miss_admin_key_0123456789abcdef0123456789abcdef';

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const loadBefore = load();
  useAuditKeys((await loadAuditKeys({}, 'memory://', false)).keys);
  const database = await openDatabase({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: 'memory://',
  });
  await runMigrations(database, process.env.DATABASE_URL);
  await bootstrap(database, ADMIN_KEY);
  const holders: { held: number; secret: string }[] = [];
  for (const held of HELD) {
    const key = generateSecret();
    // audit_seq 0: seeded rows, not ones written behind the API (which would authorize nothing).
    const [identity] = await database.query<{ id: string }>(
      `insert into identities (name, kind, created_by, audit_seq)
       select $1, 'SERVICE', id, 0 from identities where name = 'bootstrap-admin' returning id`,
      [`bench-holder-${held}`],
    );
    const id = (identity as { id: string }).id;
    await database.query(
      `insert into api_keys (identity_id, name, prefix, secret_hash, audit_seq)
       values ($1, 'bench', $2, $3, 0)`,
      [id, key.prefix, key.hash],
    );
    await seedHeldGrants(database, id, 'grants:read', held);
    holders.push({ held, secret: key.secret });
  }
  const authenticators = new Map<string, typeof Authenticate>();
  for (const build of BUILDS) {
    const module = join(resolve(build), 'src/modules/keys/authenticate.js');
    authenticators.set(build, (await import(pathToFileURL(module).href)).authenticate);
  }
  const backends = async () =>
    database.engine === 'postgres'
      ? (
          await database.query<{ pid: number }>(
            'select pid from pg_stat_activity where datname = current_database()',
          )
        ).map((row) => row.pid)
      : [];
  const node: Record<string, number[]> = {};
  const pg: Record<string, number[]> = {};
  for (let round = -1; round < ROUNDS; round += 1) {
    for (const { held, secret } of holders) {
      for (const build of BUILDS) {
        const authenticate = authenticators.get(build) as typeof Authenticate;
        const until = performance.now() + (round < 0 ? 200 : SECONDS * 1000);
        const spent = await measureCpu(process.pid, backends, async () => {
          let calls = 0;
          while (performance.now() < until) {
            await authenticate(database, secret);
            calls += 1;
          }
          return calls;
        });
        if (round < 0) continue; // warm-up
        const name = `${build} ${held}`;
        node[name] = [...(node[name] ?? []), (spent.serverSeconds * 1e6) / spent.result];
        pg[name] = [...(pg[name] ?? []), (spent.databaseSeconds * 1e6) / spent.result];
      }
    }
  }
  await database.close();
  console.log(
    `authentication miss, ${database.engine}, ${ROUNDS} rounds x ${SECONDS} s (median µs CPU per call)`,
  );
  console.log(`  load average before: ${loadBefore}, after: ${load()}`);
  for (const build of BUILDS) {
    const cells = HELD.map((held) => {
      const name = `${build} ${held}`;
      const pgPart =
        database.engine === 'postgres' ? ` (+${median(pg[name] ?? []).toFixed(0)} PG)` : '';
      return `${held}: ${median(node[name] ?? []).toFixed(0)}${pgPart}`;
    });
    const first = median(node[`${build} ${HELD[0]}`] ?? []);
    const last = median(node[`${build} ${HELD.at(-1)}`] ?? []);
    console.log(
      `  ${build.padEnd(12)} ${cells.join(', ')}; ${HELD.at(-1)} / ${HELD[0]}: ${(last / first).toFixed(2)}x`,
    );
  }
}

await main();

/**
 * What a DPoP proof costs per request, in one process, against a plain bearer authentication
 * measured alongside it on the same database (embedded PGlite, in memory; PostgreSQL when
 * `DATABASE_URL` names a fresh database).
 *
 * Variants, interleaved round by round:
 * - `verify`: `verifyDpopProof` alone (signature, header, claims, `ath`, thumbprint): the CPU a
 *   proof adds, no I/O;
 * - `bearer`: a bearer API key authenticated as the server does (`bearerAuthenticator` with its
 *   `AuthenticationCache`: a hit reads `revision_head` only);
 * - `dpop`: the bound key authenticated with a fresh proof: verification, the same cache hit, and
 *   the replay cache's insert.
 * Proofs (ES256, or Ed25519 with `--ed25519`; the `dpop` package) are made before each round,
 * outside the timings. Each variant is reported as wall time and as this process's CPU time
 * (user + system, its threads included): on a shared machine the wall time is mostly waiting for
 * a core, the CPU time what the work costs. The load average is printed before and after.
 *
 * Run with `npm run build && npm run bench:dpop` (options: `--rounds N`, `--iterations N`,
 * `--ed25519`).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { loadAuditKeys } from '../../src/modules/audit/audit-keys.js';
import { bootstrap } from '../../src/modules/identities/bootstrap.js';
import { generateSecret } from '../../src/modules/keys/api-key-secret.js';
import { AuthenticationCache } from '../../src/modules/keys/authentication-cache.js';
import { verifyDpopProof } from '../../src/modules/keys/dpop-proof.js';
import { bearerAuthenticator } from '../../src/modules/tokens/bearer-authenticator.js';

const ADMIN_KEY = 'kh_bench_dpop_admin_key_0123456789abcdef0123456789abcdef';
const URL_ = 'http://127.0.0.1:4000/graphql';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Wall and CPU time of `run`, in µs per iteration. */
async function timed(iterations: number, run: () => Promise<void>): Promise<[number, number]> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wall = ((performance.now() - started) * 1000) / iterations;
  const used = process.cpuUsage(cpu);
  return [wall, (used.user + used.system) / iterations];
}

function load(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  const loadBefore = load();
  const rounds = option('rounds', 15);
  const iterations = option('iterations', 400);
  useAuditKeys((await loadAuditKeys({}, 'memory://', false)).keys);
  // PostgreSQL when DATABASE_URL names one (a fresh database: the bench seeds a key), else PGlite.
  const database = await openDatabase({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: 'memory://',
  });
  await runMigrations(database);
  await bootstrap(database, ADMIN_KEY);
  const alg = process.argv.includes('--ed25519') ? 'Ed25519' : 'ES256';
  const pair = await generateKeyPair(alg);
  const jkt = await calculateThumbprint(pair.publicKey);
  const bound = generateSecret();
  await database.query(
    // audit_seq 0: a seeded row, not one written behind the API (which would authorize nothing).
    `insert into api_keys (identity_id, name, prefix, secret_hash, jkt, audit_seq)
     select id, 'bench-bound', $1, $2, $3, 0 from identities where name = 'bootstrap-admin'`,
    [bound.prefix, bound.hash, jkt],
  );
  const authenticate = bearerAuthenticator(
    database,
    [],
    () => {},
    new AuthenticationCache(database),
  );
  const target = { method: 'POST', url: URL_, credential: bound.secret };
  // Warm up every path (JIT, the cache entries).
  await authenticate(ADMIN_KEY);
  for (let i = 0; i < 50; i += 1) {
    const proof = await generateProof(pair, URL_, 'POST', undefined, bound.secret);
    await verifyDpopProof(proof, target);
    await authenticate(bound.secret, undefined, undefined, { kind: 'proof', proof, ...target });
  }

  const variants = ['verify', 'bearer', 'dpop'] as const;
  const wall = { verify: [] as number[], bearer: [] as number[], dpop: [] as number[] };
  const cpu = { verify: [] as number[], bearer: [] as number[], dpop: [] as number[] };
  for (let round = 0; round < rounds; round += 1) {
    const proofs: string[] = [];
    for (let i = 0; i < iterations; i += 1) {
      proofs.push(await generateProof(pair, URL_, 'POST', undefined, bound.secret));
    }
    const runs = {
      verify: async () => {
        for (const proof of proofs) await verifyDpopProof(proof, target);
      },
      bearer: async () => {
        for (let i = 0; i < iterations; i += 1) await authenticate(ADMIN_KEY);
      },
      dpop: async () => {
        for (const proof of proofs) {
          await authenticate(bound.secret, undefined, undefined, {
            kind: 'proof',
            proof,
            ...target,
          });
        }
      },
    };
    for (const variant of variants) {
      const [w, c] = await timed(iterations, runs[variant]);
      wall[variant].push(w);
      cpu[variant].push(c);
    }
  }
  await database.close();

  const [verify, bearer, dpop] = variants.map((v) => median(wall[v])) as [number, number, number];
  const [verifyCpu, bearerCpu, dpopCpu] = variants.map((v) => median(cpu[v])) as [
    number,
    number,
    number,
  ];
  const row = (label: string, w: number, c: number) =>
    console.log(
      `  ${label.padEnd(30)}${w.toFixed(1).padStart(8)} µs wall${c.toFixed(1).padStart(8)} µs CPU`,
    );
  console.log(
    `DPoP proofs, ${alg}, ${database.engine}, ${rounds} rounds x ${iterations} (median of round means)`,
  );
  console.log(`  load average before: ${loadBefore}, after: ${load()}`);
  row('proof verification alone', verify, verifyCpu);
  row('bearer authentication (hit)', bearer, bearerCpu);
  row('DPoP authentication (hit)', dpop, dpopCpu);
  row('added per request', dpop - bearer, dpopCpu - bearerCpu);
  console.log(
    `  DPoP / bearer: ${(dpop / bearer).toFixed(2)} wall, ${(dpopCpu / bearerCpu).toFixed(2)} CPU`,
  );
  console.log(`  target: verification < 100 µs: ${verify < 100 ? 'met' : 'NOT met'} (wall)`);
}

await main();

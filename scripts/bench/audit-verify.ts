/**
 * Audit verification at scale (issue 19 item 4): on a kept PostgreSQL database of `EVENTS` events
 * (generated through the chain trigger, then sealed once as an upgrade would), measures
 * - sealing the existing log at first start (`adoptUnsealedEvents`), events/s;
 * - a full re-verification (`AuditVerifier.full`), events/s (target ≥ 200,000);
 * - `verifyAuditLog` on a fresh instance after `NEW_EVENTS` new events, resuming from the newest
 *   signed checkpoint, ms (target < 200 at 1,000,000), `RUNS` times.
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/audit-verify.js
 */
import postgres from 'postgres';
import { openDatabase } from '../../src/db/client.js';
import { adoptUnsealedEvents } from '../../src/modules/audit/adopt-unsealed.js';
import { auditKeys, useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { AuditKeys } from '../../src/modules/audit/audit-keys.js';
import { AuditVerifier } from '../../src/modules/audit/audit-verifier.js';
import { recordChange } from '../../src/modules/audit/record-change.js';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import { ensureAuditEvents } from './generate-audit-events.js';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const NEW_EVENTS = Number(process.env.NEW_EVENTS ?? 1000);
const RUNS = Number(process.env.RUNS ?? 5);
const DATABASE_NAME = process.env.DATABASE_NAME ?? `kh_bench_audit_verify_${EVENTS}`;

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  console.error(
    'audit-verify needs DATABASE_URL (a PostgreSQL server where it may keep a database).',
  );
  process.exit(2);
}
useAuditKeys(
  AuditKeys.fromSettings({
    hmacKey: BENCH_AUDIT_ENV.AUDIT_HMAC_KEY,
    signingKey: BENCH_AUDIT_ENV.AUDIT_SIGNING_KEY,
  }),
);
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const [found] = await admin`select 1 as one from pg_database where datname = ${DATABASE_NAME}`;
if (found === undefined) await admin.unsafe(`create database ${DATABASE_NAME}`);
await admin.end({ timeout: 5 });
const url = new URL(serverUrl);
url.pathname = `/${DATABASE_NAME}`;
const database = await openDatabase({ databaseUrl: url.href, dataDir: '', poolSize: 4 });
const seconds = (from: number) => (performance.now() - from) / 1000;
try {
  const generated = await ensureAuditEvents(database, url.href, { events: EVENTS });
  console.log(`${generated.rows} events (${generated.inserted} generated now)`);
  let started = performance.now();
  const adopted = await adoptUnsealedEvents(database);
  if (adopted !== null) {
    console.log(
      `sealed the existing log: ${adopted} events in ${seconds(started).toFixed(1)} s = ${(adopted / seconds(started)).toFixed(0)}/s`,
    );
  }
  const verifier = new AuditVerifier(database, auditKeys);
  started = performance.now();
  const full = await verifier.full();
  const fullSeconds = seconds(started);
  console.log(
    `full verification: ok ${full.ok}, ${full.walked} events in ${fullSeconds.toFixed(1)} s = ${(full.walked / fullSeconds).toFixed(0)} events/s${full.reason ? ` (${full.reason})` : ''}`,
  );
  await verifier.checkpointIfDue(true);
  const timings: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (let i = 0; i < NEW_EVENTS; i += 100) {
      await database.db.transaction(async (tx) => {
        for (let j = 0; j < 100; j++) {
          await recordChange(tx, null, {
            action: 'scope.policy_changed',
            subjectId: 'bench.verify:read',
            scopes: ['bench.verify:read'],
            details: { run, i, j },
          });
        }
      });
    }
    // A fresh instance: nothing in memory, so it resumes from the newest signed checkpoint.
    const fresh = new AuditVerifier(database, auditKeys);
    started = performance.now();
    const incremental = await fresh.verify();
    timings.push(performance.now() - started);
    if (!incremental.ok) throw new Error(`Incremental verification failed: ${incremental.reason}`);
    console.log(
      `verifyAuditLog after ${NEW_EVENTS} new events: ${timings.at(-1)?.toFixed(1)} ms (walked ${incremental.walked} from seq ${incremental.verifiedFrom}, checked ${incremental.checked})`,
    );
    await fresh.checkpointIfDue(true);
  }
  timings.sort((a, b) => a - b);
  console.log(
    `verifyAuditLog after ${NEW_EVENTS} new events at ${EVENTS}: median ${timings[Math.floor(timings.length / 2)]?.toFixed(1)} ms, max ${timings.at(-1)?.toFixed(1)} ms`,
  );
} finally {
  await database.close();
}

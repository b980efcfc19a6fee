/**
 * How fast the audit log is written, in one process on a fresh PostgreSQL database: change events
 * (`recordChange`, one transaction each, `WRITERS` concurrent writers, for `SECONDS`) and access
 * events (`AccessLog`, `ACCESS_EVENTS` queued then written in its batches). Run it on two builds to
 * compare what sealing costs (scripts/bench/README.md, audit-write).
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/audit-write.js
 */
import postgres from 'postgres';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { AccessLog } from '../../src/modules/audit/access-log.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { AuditKeys } from '../../src/modules/audit/audit-keys.js';
import { recordChange } from '../../src/modules/audit/record-change.js';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';

const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 10);
const WRITERS = Number(process.env.WRITERS ?? 8);
const ACCESS_EVENTS = Number(process.env.ACCESS_EVENTS ?? 100_000);

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  console.error(
    'audit-write needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}
useAuditKeys(
  AuditKeys.fromSettings({
    hmacKey: BENCH_AUDIT_ENV.AUDIT_HMAC_KEY,
    signingKey: BENCH_AUDIT_ENV.AUDIT_SIGNING_KEY,
  }),
);
const name = `kh_bench_audit_write_${process.pid}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const database = await openDatabase({ databaseUrl: url.href, dataDir: '', poolSize: WRITERS + 2 });
try {
  await runMigrations(database, url.href);
  let changes = 0;
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      while (performance.now() < until) {
        await database.db.transaction((tx) =>
          recordChange(tx, null, {
            action: 'scope.policy_changed',
            subjectId: `bench.w${writer}:read`,
            scopes: [`bench.w${writer}:read`],
            details: { before: { sensitive: false }, after: { sensitive: true }, n: changes },
          }),
        );
        changes += 1;
      }
    }),
  );
  const changeSeconds = (performance.now() - started) / 1000;

  const log = new AccessLog(database, (message, error) => console.error(message, error), {
    capacity: ACCESS_EVENTS + 1,
  });
  for (let i = 0; i < ACCESS_EVENTS; i++) {
    log.append({
      action: 'access.allowed',
      actorId: null,
      details: {
        operation: 'ListIdentities',
        fields: ['Query.identities'],
        scopes: ['identities:read'],
        request: { id: `r${i}`, ip: '127.0.0.1', userAgent: 'bench' },
      },
    });
  }
  const accessStarted = performance.now();
  await log.flush();
  const accessSeconds = (performance.now() - accessStarted) / 1000;
  console.log(
    `change events: ${changes} in ${changeSeconds.toFixed(1)} s = ${(changes / changeSeconds).toFixed(0)}/s (${WRITERS} writers, one transaction each)`,
  );
  console.log(
    `access events: ${ACCESS_EVENTS} in ${accessSeconds.toFixed(1)} s = ${(ACCESS_EVENTS / accessSeconds).toFixed(0)}/s (batches of 500)`,
  );
} finally {
  await database.close();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end({ timeout: 5 });
}

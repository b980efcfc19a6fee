/**
 * Growth (issue 19): does every read stay flat from 5,000 to 1,000,000 grants? For each size in
 * `SIZES` (default 5000,100000,1000000) a kept PostgreSQL database `kh_bench_growth_<size>` is
 * seeded by direct SQL shaped like the API's rows (10,000 identities, 300 scopes, `size` grants
 * with their audit events, 5 % revoked, half of them used, then as many synthetic events again
 * from generate-audit-events.ts), every event sealed with the benchmark's audit keys and every row
 * stamped with the `seq` of its creating event, as the API would. Then a Keyholder process is
 * started on it (startup time), the whole log is verified through the API, and each operation is
 * timed over HTTP GraphQL (p50/p95), its statements EXPLAINed (ANALYZE, BUFFERS) in-process; RSS
 * and database size close each size, and a last table compares every size with the smallest.
 * A database that already holds its seed is reused (`REGENERATE=1` starts over).
 * Usage: npm run build && DATABASE_URL=postgres://… SIZES=5000,100000 npm run bench:growth
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Logger } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type Database, type Db, openDatabase } from '../../src/db/client.js';
import * as tables from '../../src/db/tables.js';
import { useAuditKeys } from '../../src/modules/audit/audit-chain.js';
import { AuditKeys } from '../../src/modules/audit/audit-keys.js';
import { AuditService } from '../../src/modules/audit/audit-service.js';
import { recordChange } from '../../src/modules/audit/record-change.js';
import { GrantService } from '../../src/modules/grants/grant-service.js';
import { encodeCursor } from '../../src/modules/shared/pagination.js';
import { UsageService } from '../../src/modules/usage/usage-service.js';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import { scopeName } from './generate-audit-events.js';
import { GROWTH_IDENTITIES, seedGrowth } from './growth-seed.js';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { percentile } from './percentile.js';
import { graphqlData } from './post-graphql.js';

const SIZES = (process.env.SIZES ?? '5000,100000,1000000').split(',').map(Number);
const RUNS = Number(process.env.RUNS ?? 30);
const WARMUP = Number(process.env.WARMUP ?? 5);
const VERIFY_RUNS = Number(process.env.VERIFY_RUNS ?? 5);
const NEW_EVENTS = 1000;
const PAGE = 50;
const UNUSED_SECONDS = 30 * 86_400;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const REGENERATE = process.env.REGENERATE === '1';

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  console.error('growth needs DATABASE_URL (a PostgreSQL server where it may keep databases).');
  process.exit(2);
}
if (SIZES.some((size) => !Number.isInteger(size) || size < 1)) {
  console.error('SIZES must be comma-separated whole numbers of grants, e.g. 5000,100000.');
  process.exit(2);
}
useAuditKeys(
  AuditKeys.fromSettings({
    hmacKey: BENCH_AUDIT_ENV.AUDIT_HMAC_KEY,
    signingKey: BENCH_AUDIT_ENV.AUDIT_SIGNING_KEY,
  }),
);

const seconds = (from: number) => (performance.now() - from) / 1000;

async function databaseUrlFor(size: number): Promise<string> {
  const name = `kh_bench_growth_${size}`;
  const admin = postgres(serverUrl as string, { max: 1, onnotice: () => {} });
  try {
    if (REGENERATE) await admin.unsafe(`drop database if exists ${name} with (force)`);
    const [found] = await admin`select 1 as one from pg_database where datname = ${name}`;
    if (found === undefined) await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(serverUrl as string);
  url.pathname = `/${name}`;
  return url.href;
}

interface Operation {
  readonly name: string;
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  /** The same read in-process, for EXPLAIN (ANALYZE, BUFFERS) of its statements. */
  readonly explain?: (database: Database) => Promise<unknown>;
}

interface Measured {
  readonly p50: number;
  readonly p95: number;
  readonly buffers: number | null;
  readonly dbMs: number | null;
}

interface PlanNode {
  readonly 'Shared Hit Blocks': number;
  readonly 'Shared Read Blocks': number;
}

/** Runs `read` on a client whose drizzle logger keeps every statement, then EXPLAINs each. */
async function explainStatements(
  database: Database,
  client: postgres.Sql,
  read: (database: Database) => Promise<unknown>,
): Promise<{ buffers: number; ms: number }> {
  const statements: { sql: string; params: unknown[] }[] = [];
  const logger: Logger = {
    logQuery(sql, params) {
      statements.push({ sql, params });
    },
  };
  await read({ ...database, db: drizzle(client, { schema: tables, logger }) as unknown as Db });
  let buffers = 0;
  let ms = 0;
  for (const statement of statements) {
    const [row] = await client.unsafe(
      `explain (analyze, buffers, format json) ${statement.sql}`,
      statement.params as postgres.ParameterOrJSON<never>[],
    );
    const [result] = (row as Record<string, unknown>)['QUERY PLAN'] as [
      { 'Execution Time': number; Plan: PlanNode },
    ];
    buffers += result.Plan['Shared Hit Blocks'] + result.Plan['Shared Read Blocks'];
    ms += result['Execution Time'];
  }
  return { buffers, ms };
}

const GRANT_PAGE = `query Grants($first: Int, $after: String, $filter: GrantFilter) {
  grants(first: $first, after: $after, filter: $filter) {
    nodes { id scope { name } resource createdAt expiresAt active }
    pageInfo { hasNextPage endCursor }
  }
}`;
const AUDIT_PAGE = `query Audit($first: Int, $filter: AuditFilter) {
  auditEvents(first: $first, filter: $filter) {
    nodes { id seq at action actorId subjectId details }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function operationsFor(database: Database): Promise<Operation[]> {
  const one = async (text: string, params: unknown[] = []) => {
    const [row] = await database.query<Record<string, string>>(text, params);
    if (row === undefined) throw new Error(`No row for: ${text}`);
    return row;
  };
  const [total] = await database.query<{ n: string }>('select count(*)::text as n from grants');
  const deep = async (fraction: number) => {
    const row = await database.query<{ created_at: Date; id: string }>(
      'select created_at, id from grants order by created_at, id offset $1 limit 1',
      [Math.floor(Number(total?.n ?? 0) * fraction)],
    );
    const [at] = row;
    if (at === undefined) throw new Error('No grant at that depth.');
    return encodeCursor({ createdAt: new Date(at.created_at), id: at.id });
  };
  const common = scopeName(0);
  const rare = (
    await one(
      `select scope from grants where reason like 'INC-%' and revoked_at is null
       group by scope order by count(*), scope limit 1`,
    )
  ).scope as string;
  const holder = await one(
    `select g.identity_id::text as identity, g.scope from grants g
     where g.revoked_at is null and g.expires_at is null and g.resource is null
     order by g.id limit 1`,
  );
  const identity = holder.identity as string;
  const busy = await one(
    `select actor_id::text as actor from audit_events where actor_id is not null
     group by actor_id order by count(*) desc limit 1`,
  );
  const subject = await one(
    `select subject_id from audit_events where action = 'grant.revoked' order by seq desc limit 1`,
  );
  const span = await one(`select min(at)::text as first, max(at)::text as last from audit_events`);
  const first = new Date(span.first as string).getTime();
  const last = new Date(span.last as string).getTime();
  const middle = {
    from: new Date(first + 0.45 * (last - first)).toISOString(),
    to: new Date(first + 0.55 * (last - first)).toISOString(),
  };
  const [at10, at99] = [await deep(0.1), await deep(0.99)];
  console.log(
    `  common scope ${common}, rare scope ${rare}; identity ${identity}; busy actor ${busy.actor}`,
  );
  const grants = (d: Database) => new GrantService(d);
  const audit = (d: Database) => new AuditService(d);
  const busyFilter = { actorId: busy.actor as string, action: 'grant.' };
  const subjectFilter = { subjectId: subject.subject_id as string };
  const whoCan = `query WhoCan($scope: String!) {
    whoCan(scope: $scope, first: ${PAGE}) { nodes { identityId grant { id } } pageInfo { hasNextPage endCursor } }
  }`;
  return [
    {
      name: 'grants page 1',
      query: GRANT_PAGE,
      variables: { first: PAGE },
      explain: (d) => grants(d).list(PAGE, null, null),
    },
    {
      name: 'grants 10 % deep',
      query: GRANT_PAGE,
      variables: { first: PAGE, after: at10 },
      explain: (d) => grants(d).list(PAGE, at10, null),
    },
    {
      name: 'grants 99 % deep',
      query: GRANT_PAGE,
      variables: { first: PAGE, after: at99 },
      explain: (d) => grants(d).list(PAGE, at99, null),
    },
    {
      name: 'grants by scope, common',
      query: GRANT_PAGE,
      variables: { first: PAGE, filter: { scope: common } },
      explain: (d) => grants(d).list(PAGE, null, { scope: common }),
    },
    {
      name: 'grants by scope, rare',
      query: GRANT_PAGE,
      variables: { first: PAGE, filter: { scope: rare } },
      explain: (d) => grants(d).list(PAGE, null, { scope: rare }),
    },
    {
      name: 'grants by identity',
      query: GRANT_PAGE,
      variables: { first: PAGE, filter: { identityId: identity } },
      explain: (d) => grants(d).list(PAGE, null, { identityId: identity }),
    },
    {
      name: 'whoCan page 1, common scope',
      query: whoCan,
      variables: { scope: common },
      explain: (d) => grants(d).whoCan({ scope: common, first: PAGE }),
    },
    {
      name: 'whoCan page 1, rare scope',
      query: whoCan,
      variables: { scope: rare },
      explain: (d) => grants(d).whoCan({ scope: rare, first: PAGE }),
    },
    {
      name: 'unusedGrants page 1',
      query: `query Unused($s: Int!) { unusedGrants(olderThanSeconds: $s, first: ${PAGE}) {
        nodes { id lastUsedAt } pageInfo { hasNextPage endCursor } } }`,
      variables: { s: UNUSED_SECONDS },
      explain: (d) => new UsageService(d).unusedGrants(UNUSED_SECONDS, PAGE, null),
    },
    {
      name: 'check',
      query: `query Check($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }`,
      variables: { id: identity, scope: holder.scope },
    },
    {
      name: 'effectivePermissions',
      query: `query Effective($id: ID!) { effectivePermissions(identityId: $id) { scope resource expiresAt } }`,
      variables: { id: identity },
    },
    {
      name: 'auditEvents busy actor + prefix grant.',
      query: AUDIT_PAGE,
      variables: { first: PAGE, filter: busyFilter },
      explain: (d) => audit(d).search(PAGE, null, busyFilter),
    },
    {
      name: 'auditEvents by subject',
      query: AUDIT_PAGE,
      variables: { first: PAGE, filter: subjectFilter },
      explain: (d) => audit(d).search(PAGE, null, subjectFilter),
    },
    {
      name: 'auditEvents middle 10 % of time',
      query: AUDIT_PAGE,
      variables: { first: PAGE, filter: middle },
      explain: (d) =>
        audit(d).search(PAGE, null, { from: new Date(middle.from), to: new Date(middle.to) }),
    },
  ];
}

/** Appends `NEW_EVENTS` sealed change events, as the API writes them (100 per transaction). */
async function appendEvents(database: Database, run: number): Promise<void> {
  for (let i = 0; i < NEW_EVENTS; i += 100) {
    await database.db.transaction(async (tx) => {
      for (let j = 0; j < 100; j++) {
        await recordChange(tx, null, {
          action: 'scope.policy_changed',
          subjectId: scopeName(1),
          scopes: [scopeName(1)],
          details: { run, i, j },
        });
      }
    });
  }
}

const VERIFY = '{ verifyAuditLog { ok checked walked reason } }';
const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1));
const rssMiB = (pid: number | undefined) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
};

interface SizeResult {
  readonly size: number;
  readonly figures: Map<string, Measured>;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** One size, prepared: its database seeded, its Keyholder started and verified. */
interface Prepared {
  readonly size: number;
  readonly database: Database;
  readonly explainClient: postgres.Sql;
  readonly keyholder: KeyholderProcess;
  /** Filled once its log verified. */
  readonly operations: Operation[];
  readonly startup: number;
  readonly times: Map<string, number[]>;
}

console.log(
  `bench:growth, sizes ${SIZES.join(', ')} grants (${GROWTH_IDENTITIES} identities); load average ${load()}`,
);
const prepared: Prepared[] = [];
const results: SizeResult[] = [];
try {
  for (const size of SIZES) {
    console.log(`\n## ${size} grants: seed, start, verify`);
    const databaseUrl = await databaseUrlFor(size);
    const database = await openDatabase({
      databaseUrl,
      dataDir: '',
      poolSize: 2,
      timeoutMs: 3_600_000,
    });
    const explainClient = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    await seedGrowth(database, databaseUrl, { size, adminKey: ADMIN_KEY });
    let started = performance.now();
    const keyholder = await startKeyholderProcess(databaseUrl, ADMIN_KEY);
    const startup = performance.now() - started;
    const entry: Prepared = {
      size,
      database,
      explainClient,
      keyholder,
      operations: [],
      startup,
      times: new Map(),
    };
    prepared.push(entry);
    started = performance.now();
    const first = (await graphqlData(keyholder.url, ADMIN_KEY, VERIFY)).verifyAuditLog;
    if (first.ok !== true) throw new Error(`The seeded log does not verify: ${first.reason}`);
    console.log(
      `  started in ${startup.toFixed(0)} ms; verifyAuditLog through the API: ok, ${first.checked} checked (${first.walked} walked) in ${seconds(started).toFixed(1)} s`,
    );
    entry.operations.push(...(await operationsFor(database)));
  }

  // Interleaved: each round times every size once, in an order rotated from round to round, so
  // a change in the machine's load hits every size alike.
  console.log(
    `\ntiming: ${WARMUP} warm-up rounds, then ${RUNS} rounds; each round times every size once per operation; load average ${load()}`,
  );
  const request = (p: Prepared, op: Operation) =>
    graphqlData(p.keyholder.url, ADMIN_KEY, op.query, op.variables);
  const names = (prepared[0]?.operations ?? []).map((op) => op.name);
  for (let round = 0; round < WARMUP; round += 1) {
    for (const p of prepared) for (const op of p.operations) await request(p, op);
  }
  for (let round = 0; round < RUNS; round += 1) {
    for (const [index, name] of names.entries()) {
      for (let k = 0; k < prepared.length; k += 1) {
        const p = prepared[(k + round + index) % prepared.length] as Prepared;
        const op = p.operations.find((o) => o.name === name) as Operation;
        const started = performance.now();
        await request(p, op);
        const times = p.times.get(name) ?? [];
        times.push(performance.now() - started);
        p.times.set(name, times);
      }
    }
  }
  const verifyName = `verifyAuditLog after ${NEW_EVENTS} new events`;
  for (let run = 0; run < VERIFY_RUNS; run += 1) {
    for (const p of prepared) {
      await appendEvents(p.database, run);
      const started = performance.now();
      const verified = (await graphqlData(p.keyholder.url, ADMIN_KEY, VERIFY)).verifyAuditLog;
      const times = p.times.get(verifyName) ?? [];
      times.push(performance.now() - started);
      p.times.set(verifyName, times);
      if (verified.ok !== true) throw new Error(`verifyAuditLog failed: ${verified.reason}`);
    }
  }
  console.log(`  done; load average ${load()}`);

  for (const p of prepared) {
    console.log(`\n## ${p.size} grants`);
    console.log(
      '| operation | p50 ms | p95 ms | EXPLAIN buffers (shared hit + read) | db exec ms |',
    );
    console.log('|:--|--:|--:|--:|--:|');
    const figures = new Map<string, Measured>();
    figures.set('startup', { p50: p.startup, p95: p.startup, buffers: null, dbMs: null });
    for (const name of [...names, verifyName]) {
      const op = p.operations.find((o) => o.name === name);
      const plan = op?.explain
        ? await explainStatements(p.database, p.explainClient, op.explain)
        : null;
      const times = p.times.get(name) ?? [];
      const measured: Measured = {
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        buffers: plan?.buffers ?? null,
        dbMs: plan?.ms ?? null,
      };
      figures.set(name, measured);
      console.log(
        `| ${name} | ${ms(measured.p50)} | ${ms(measured.p95)} | ${measured.buffers ?? '-'} | ${plan === null ? '-' : plan.ms.toFixed(2)} |`,
      );
    }
    const memory = rssMiB(p.keyholder.child.pid);
    const [sizes] = await p.database.query<Record<string, string>>(
      `select pg_size_pretty(pg_database_size(current_database())) as db,
              pg_size_pretty(pg_total_relation_size('grants')) as grants,
              pg_size_pretty(pg_total_relation_size('audit_events')) as audit,
              (select count(*) from audit_events)::text as events,
              (select count(*) from grants)::text as grant_rows`,
    );
    console.log(
      `  startup ${p.startup.toFixed(0)} ms; RSS ${memory.rss.toFixed(0)} MiB (peak ${memory.peak.toFixed(0)} MiB); database ${sizes?.db} (grants ${sizes?.grant_rows} rows, ${sizes?.grants}; audit_events ${sizes?.events} rows, ${sizes?.audit})`,
    );
    figures.set('RSS MiB', { p50: memory.rss, p95: memory.rss, buffers: null, dbMs: null });
    results.push({ size: p.size, figures });
  }
} finally {
  for (const p of prepared) {
    await stopKeyholderProcess(p.keyholder).catch(() => {});
    await p.explainClient.end({ timeout: 5 });
    await p.database.close();
  }
}

const [base] = results;
if (base !== undefined && results.length > 1) {
  const largest = results.at(-1) as SizeResult;
  console.log(
    `\n## p50 / p95 (ms) by size, and × the ${base.size} figure at ${largest.size} (issue 19: within 2×)`,
  );
  console.log(
    `| operation | ${results.map((r) => `${r.size}`).join(' | ')} | × p50 | × p95 | buffers ${base.size} → ${largest.size} |`,
  );
  console.log(`|:--|${results.map(() => '--:|').join('')}--:|--:|--:|`);
  for (const [name, measured] of base.figures) {
    const row = results.map((r) => {
      const m = r.figures.get(name);
      return m === undefined ? '-' : `${ms(m.p50)} / ${ms(m.p95)}`;
    });
    const last = largest.figures.get(name);
    const ratio = (a: number | undefined, b: number) =>
      a === undefined ? '-' : `${(a / b).toFixed(2)}×`;
    console.log(
      `| ${name} | ${row.join(' | ')} | ${ratio(last?.p50, measured.p50)} | ${ratio(last?.p95, measured.p95)} | ${measured.buffers ?? '-'} → ${last?.buffers ?? '-'} |`,
    );
  }
}
console.log(`\nload average at the end ${load()}`);
process.exit(0);

/**
 * Audit search on a million events (audit issue: a filtered page in under 50 ms). Fills a kept
 * database with `EVENTS` synthetic events through the chain trigger (generate-audit-events.ts;
 * skipped when it already holds them, `REGENERATE=1` starts over), then times pages of 50 for each
 * filter in-process through `AuditService.search` (what the GraphQL resolver calls) and, for a few,
 * over HTTP GraphQL against a Keyholder started on the same database. Prints `EXPLAIN (ANALYZE,
 * BUFFERS)` for every filter whose p95 reaches the target. See scripts/bench/README.md.
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/audit-search.js
 */
import type { Logger } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type Database, type Db, openDatabase } from '../../src/db/client.js';
import * as tables from '../../src/db/tables.js';
import type { AuditFilter } from '../../src/modules/audit/audit-filter.js';
import { AuditService } from '../../src/modules/audit/audit-service.js';
import { ensureAuditEvents, SCOPE_COUNT, scopeName } from './generate-audit-events.js';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { percentile } from './percentile.js';
import { postGraphql } from './post-graphql.js';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 30);
const HTTP_RUNS = Number(process.env.HTTP_RUNS ?? 30);
const WARMUP = 3;
const HTTP_WARMUP = 20;
const TARGET_MS = 50;
const PAGE = 50;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const DATABASE_NAME = process.env.BENCH_DATABASE ?? 'kh_bench_audit_search';
const REGENERATE = process.env.REGENERATE === '1';
const EXPLAIN_ALL = process.env.EXPLAIN === 'all';

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  console.error(
    'audit-search needs DATABASE_URL (a PostgreSQL server where it may create and keep a database).',
  );
  process.exit(2);
}
if (!/^[a-z_][a-z0-9_]*$/.test(DATABASE_NAME)) {
  console.error('BENCH_DATABASE must be a plain lower-case identifier.');
  process.exit(2);
}

/** The cursor `auditEvents` returns for the row at `seq` (a page `after` it starts below it). */
const cursorAt = (seq: number) => Buffer.from(`seq:${seq}`).toString('base64url');

interface Case {
  readonly name: string;
  readonly filter: AuditFilter | null;
  readonly after?: string | null;
  /** Also timed over HTTP GraphQL. */
  readonly http?: boolean;
}

/** The part of PostgreSQL's JSON plan the report reads. */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Parent Relationship'?: string;
  readonly 'Index Name'?: string;
  readonly 'Scan Direction'?: string;
  readonly 'Relation Name'?: string;
  readonly 'Actual Rows': number;
  readonly 'Shared Hit Blocks': number;
  readonly 'Shared Read Blocks': number;
  readonly Plans?: readonly PlanNode[];
}

interface Timing {
  readonly rows: number;
  readonly first: number;
  readonly times: number[];
}

async function timeRuns(runs: number, search: () => Promise<number>): Promise<Timing> {
  let rows = 0;
  const firstStarted = performance.now();
  rows = await search();
  const first = performance.now() - firstStarted;
  for (let i = 1; i < WARMUP; i += 1) await search();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    rows = await search();
    times.push(performance.now() - started);
  }
  return { rows, first, times };
}

const ms = (value: number) => value.toFixed(1);

async function prepareDatabase(): Promise<string> {
  const admin = postgres(serverUrl as string, { max: 1, onnotice: () => {} });
  try {
    if (REGENERATE) await admin.unsafe(`drop database if exists ${DATABASE_NAME} with (force)`);
    const [found] = await admin`select 1 as one from pg_database where datname = ${DATABASE_NAME}`;
    if (found === undefined) await admin.unsafe(`create database ${DATABASE_NAME}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(serverUrl as string);
  url.pathname = `/${DATABASE_NAME}`;
  return url.href;
}

const databaseUrl = await prepareDatabase();
const database = await openDatabase({ databaseUrl, dataDir: '', poolSize: 2 });
const explainClient = postgres(databaseUrl, { max: 1, onnotice: () => {} });
let keyholder: KeyholderProcess | null = null;
let missed = 0;
try {
  console.log(`database ${DATABASE_NAME}: ensuring at least ${EVENTS} audit events`);
  const generated = await ensureAuditEvents(database, databaseUrl, { events: EVENTS });
  const audit = new AuditService(database);
  if (generated.inserted > 0) {
    console.log(
      `  inserted ${generated.inserted} events in ${generated.seconds.toFixed(1)} s (${(generated.inserted / generated.seconds).toFixed(0)} rows/s through the chain trigger, ANALYZE included)`,
    );
    // Generated through the chain trigger, so unsealed: Keyholder seals them at its first start
    // (as for an upgrade), after checking their chain with its own hash.
  } else {
    console.log(`  found ${generated.rows} events: generation skipped (REGENERATE=1 to redo it)`);
  }
  keyholder = await startKeyholderProcess(databaseUrl, ADMIN_KEY);

  const [shape] = await database.query<Record<string, string>>(
    `with per_actor as (
       select actor_id, count(*) as n from audit_events where actor_id is not null group by actor_id
     )
     select (select p.actor_id from per_actor p order by p.n desc limit 1)::text as busy_actor,
            (select p.n from per_actor p order by p.n desc limit 1)::text as busy_actor_events,
            (select p.actor_id from per_actor p order by p.n, p.actor_id limit 1)::text as rare_actor,
            (select p.n from per_actor p order by p.n, p.actor_id limit 1)::text as rare_actor_events,
            (select subject_id from audit_events where action = 'grant.revoked'
               order by seq desc limit 1) as subject,
            (select count(*)::text from audit_events) as events,
            (select min(at) from audit_events where seq <= $1)::text as first_at,
            (select max(at) from audit_events where seq <= $1)::text as last_at,
            (select pg_size_pretty(pg_total_relation_size('audit_events'))) as table_size,
            (select avg(length(details::text))::int::text from audit_events
               where seq % 1000 = 0) as details_bytes`,
    [EVENTS],
  );
  const scopeCounts = await database.query<{ scope: string; n: string }>(
    'select scope, count(*)::text as n from audit_event_scopes group by scope order by count(*), scope',
  );
  const commonScope = scopeName(0);
  const generatedScopes = new Set(Array.from({ length: SCOPE_COUNT }, (_, k) => scopeName(k)));
  const rareScope =
    scopeCounts.find((row) => generatedScopes.has(row.scope))?.scope ?? scopeName(SCOPE_COUNT - 1);
  const absentScope = 'absent.scope:read';
  const eventsOfScope = (scope: string) => scopeCounts.find((s) => s.scope === scope)?.n ?? '0';
  const s = shape as Record<string, string>;
  const firstAt = new Date(s.first_at as string);
  const lastAt = new Date(s.last_at as string);
  const span = lastAt.getTime() - firstAt.getTime();
  const at = (fraction: number) => new Date(firstAt.getTime() + fraction * span);
  const busy = s.busy_actor as string;
  const rare = s.rare_actor as string;
  console.log(
    `  ${s.events} events (${s.table_size} with indexes, details ~${s.details_bytes} bytes as text), ${firstAt.toISOString()} .. ${lastAt.toISOString()} (${(span / 1000).toFixed(0)} s)`,
  );
  console.log(
    `  busy actor ${busy} (${s.busy_actor_events} events), rare actor ${rare} (${s.rare_actor_events}); scope ${commonScope} on ${eventsOfScope(commonScope)} events, ${rareScope} on ${eventsOfScope(rareScope)}, ${absentScope} on none`,
  );

  const page1 = await audit.search(PAGE, null, null);
  const commonPage1 = await audit.search(PAGE, null, { scope: commonScope });
  const cases: Case[] = [
    { name: 'no filter', filter: null, http: true },
    { name: 'actorId: busy actor', filter: { actorId: busy } },
    { name: 'actorId: rare actor', filter: { actorId: rare } },
    { name: 'subjectId (a grant)', filter: { subjectId: s.subject ?? null } },
    { name: 'action: grant.created (exact)', filter: { action: 'grant.created' } },
    { name: 'action: scope.defined (exact, 1.5 %)', filter: { action: 'scope.defined' } },
    { name: 'action prefix grant.', filter: { action: 'grant.' } },
    { name: 'action prefix identity.', filter: { action: 'identity.' } },
    { name: 'decision: DENIED', filter: { decision: 'DENIED' } },
    { name: 'decision: ALLOWED', filter: { decision: 'ALLOWED' } },
    { name: `scope: ${commonScope} (very common)`, filter: { scope: commonScope }, http: true },
    { name: `scope: ${rareScope} (rare)`, filter: { scope: rareScope } },
    { name: `scope: ${absentScope} (absent)`, filter: { scope: absentScope } },
    { name: 'time: most recent 1 % (from)', filter: { from: at(0.99) } },
    { name: 'time: middle 10 % (from, to)', filter: { from: at(0.45), to: at(0.55) }, http: true },
    {
      name: 'time: everything (from, to)',
      filter: { from: firstAt, to: new Date(lastAt.getTime() + 1) },
    },
    { name: 'busy actor + prefix grant.', filter: { actorId: busy, action: 'grant.' }, http: true },
    { name: 'busy actor + prefix identity.', filter: { actorId: busy, action: 'identity.' } },
    { name: 'rare actor + prefix grant.', filter: { actorId: rare, action: 'grant.' } },
    {
      name: `scope ${commonScope} + DENIED`,
      filter: { scope: commonScope, decision: 'DENIED' },
      http: true,
    },
    { name: `scope ${rareScope} + DENIED`, filter: { scope: rareScope, decision: 'DENIED' } },
    { name: `scope ${commonScope} + ALLOWED`, filter: { scope: commonScope, decision: 'ALLOWED' } },
    { name: 'busy actor + middle 10 %', filter: { actorId: busy, from: at(0.45), to: at(0.55) } },
    { name: 'rare actor + middle 10 %', filter: { actorId: rare, from: at(0.45), to: at(0.55) } },
    { name: 'DENIED + middle 1 %', filter: { decision: 'DENIED', from: at(0.5), to: at(0.51) } },
    { name: 'DENIED + middle 10 %', filter: { decision: 'DENIED', from: at(0.45), to: at(0.55) } },
    {
      name: 'ALLOWED + middle 10 %',
      filter: { decision: 'ALLOWED', from: at(0.45), to: at(0.55) },
    },
    {
      name: 'prefix identity. + middle 10 %',
      filter: { action: 'identity.', from: at(0.45), to: at(0.55) },
    },
    {
      name: `scope ${commonScope} + middle 10 %`,
      filter: { scope: commonScope, from: at(0.45), to: at(0.55) },
    },
    {
      name: `scope ${rareScope} + middle 10 %`,
      filter: { scope: rareScope, from: at(0.45), to: at(0.55) },
    },
    { name: 'page 2 (after page 1), no filter', filter: null, after: page1.pageInfo.endCursor },
    {
      name: `page 2, scope ${commonScope}`,
      filter: { scope: commonScope },
      after: commonPage1.pageInfo.endCursor,
    },
    { name: 'after seq 1000 (oldest rows), no filter', filter: null, after: cursorAt(1000) },
    {
      name: 'after seq 5000, prefix identity.',
      filter: { action: 'identity.' },
      after: cursorAt(5000),
    },
    { name: 'after seq 5000, DENIED', filter: { decision: 'DENIED' }, after: cursorAt(5000) },
    {
      name: `after seq 5000, scope ${commonScope}`,
      filter: { scope: commonScope },
      after: cursorAt(5000),
    },
  ];

  // The same search on a client whose drizzle logger keeps the statement, to EXPLAIN it.
  let captured: { sql: string; params: unknown[] } | null = null;
  const logger: Logger = {
    logQuery(sql, params) {
      captured = { sql, params };
    },
  };
  const explaining = new AuditService({
    ...database,
    db: drizzle(explainClient, { schema: tables, logger }) as unknown as Db,
  } satisfies Database);
  const statementOf = async (c: Case) => {
    captured = null;
    await explaining.search(PAGE, c.after ?? null, c.filter);
    return captured as { sql: string; params: unknown[] } | null;
  };
  const explain = async (statement: { sql: string; params: unknown[] }, options: string) =>
    explainClient.unsafe(
      `explain (${options}) ${statement.sql}`,
      statement.params as postgres.ParameterOrJSON<never>[],
    );
  /** Execution time and buffers as PostgreSQL measures them, and the scans of the main plan. */
  const serverSide = async (c: Case) => {
    const statement = await statementOf(c);
    if (statement === null) return { ms: 0, buffers: 0, scans: 'none (no statement)' };
    const [row] = await explain(statement, 'analyze, buffers, format json');
    const [result] = (row as Record<string, unknown>)['QUERY PLAN'] as [
      { 'Execution Time': number; Plan: PlanNode },
    ];
    const scans: string[] = [];
    const walk = (node: PlanNode) => {
      if (node['Parent Relationship'] === 'InitPlan') return;
      if (node['Node Type'].includes('Scan') || node['Node Type'] === 'Sort') {
        const on = node['Index Name'] ?? node['Relation Name'] ?? '';
        const backward = node['Scan Direction'] === 'Backward' ? ' backward' : '';
        scans.push(
          `${node['Node Type']}${backward}${on ? ` ${on}` : ''} (${node['Actual Rows']} rows)`,
        );
      }
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(result.Plan);
    return {
      ms: result['Execution Time'],
      buffers: result.Plan['Shared Hit Blocks'] + result.Plan['Shared Read Blocks'],
      scans: scans.join(' + '),
    };
  };

  console.log(
    `\nin-process AuditService.search, first: ${PAGE}, ${RUNS} timed runs after ${WARMUP} warm-up (the first of which is the "first" column), ms; then PostgreSQL's own execution time and buffers for the statement (EXPLAIN ANALYZE, once):`,
  );
  console.log(
    '| filter | rows | first | p50 | p95 | max | < 50 ms at p95 | db exec ms | buffers | main plan |',
  );
  console.log('|:--|--:|--:|--:|--:|--:|:--|--:|--:|:--|');
  const slow: Case[] = [];
  const inProcess = new Map<string, Timing>();
  for (const c of cases) {
    const timing = await timeRuns(
      RUNS,
      async () => (await audit.search(PAGE, c.after ?? null, c.filter)).nodes.length,
    );
    inProcess.set(c.name, timing);
    const p95 = percentile(timing.times, 95);
    if (p95 >= TARGET_MS) slow.push(c);
    const db = await serverSide(c);
    console.log(
      `| ${c.name} | ${timing.rows} | ${ms(timing.first)} | ${ms(percentile(timing.times, 50))} | ${ms(p95)} | ${ms(Math.max(...timing.times))} | ${p95 < TARGET_MS ? 'yes' : '**NO**'} | ${db.ms.toFixed(2)} | ${db.buffers} | ${db.scans} |`,
    );
  }
  missed = slow.length;

  const query = `query Audit($first: Int, $after: String, $filter: AuditFilter) {
    auditEvents(first: $first, after: $after, filter: $filter) {
      nodes { id seq at action actorId subjectId details prevHash hash }
      pageInfo { hasNextPage endCursor }
    }
  }`;
  const url = keyholder.url;
  console.log(
    `\nHTTP POST /graphql auditEvents(first: ${PAGE}, filter: …) on a Keyholder process (NODE_ENV=production), ${HTTP_WARMUP} warm-up rounds over these filters, then ${HTTP_RUNS} timed runs each, ms (request sent to JSON parsed); the first row is the floor, a query that reads no audit events:`,
  );
  console.log('| filter | rows | p50 | p95 | max | in-process p50 | < 50 ms at p95 |');
  console.log('|:--|--:|--:|--:|--:|--:|:--|');
  const httpCases = cases.filter((x) => x.http);
  const fetchPage = async (c: Case) => {
    const answer = await postGraphql(url, ADMIN_KEY, query, {
      first: PAGE,
      after: c.after ?? null,
      filter: c.filter,
    });
    if (answer.errors !== undefined) throw new Error(JSON.stringify(answer.errors));
    return (answer.data as { auditEvents: { nodes: unknown[] } }).auditEvents.nodes.length;
  };
  const fetchMe = async () => {
    const answer = await postGraphql(url, ADMIN_KEY, '{ me { id } }');
    if (answer.errors !== undefined) throw new Error(JSON.stringify(answer.errors));
    return 1;
  };
  // A fresh process: let V8 optimise the request path before anything is timed.
  for (let i = 0; i < HTTP_WARMUP; i += 1) {
    await fetchMe();
    for (const c of httpCases) await fetchPage(c);
  }
  const floor = await timeRuns(HTTP_RUNS, fetchMe);
  console.log(
    `| floor: { me { id } } | - | ${ms(percentile(floor.times, 50))} | ${ms(percentile(floor.times, 95))} | ${ms(Math.max(...floor.times))} | - | - |`,
  );
  for (const c of httpCases) {
    const timing = await timeRuns(HTTP_RUNS, () => fetchPage(c));
    const p95 = percentile(timing.times, 95);
    if (p95 >= TARGET_MS) missed += 1;
    console.log(
      `| ${c.name} | ${timing.rows} | ${ms(percentile(timing.times, 50))} | ${ms(p95)} | ${ms(Math.max(...timing.times))} | ${ms(percentile(inProcess.get(c.name)?.times ?? [], 50))} | ${p95 < TARGET_MS ? 'yes' : '**NO**'} |`,
    );
  }

  for (const c of EXPLAIN_ALL ? cases : slow) {
    const statement = await statementOf(c);
    if (statement === null) continue;
    const plan = await explain(statement, 'analyze, buffers');
    console.log(`\n${EXPLAIN_ALL ? '' : `p95 ≥ ${TARGET_MS} ms: `}${c.name}\n${statement.sql}`);
    console.log(`params ${JSON.stringify(statement.params)}`);
    for (const row of plan) console.log(`  ${row['QUERY PLAN']}`);
  }
  console.log(
    missed === 0
      ? `\nRESULT: every filter under ${TARGET_MS} ms at p95`
      : `\nRESULT: ${missed} filter(s) at or over ${TARGET_MS} ms at p95 (EXPLAIN above)`,
  );
} finally {
  if (keyholder !== null) await stopKeyholderProcess(keyholder).catch(() => {});
  await explainClient.end({ timeout: 5 });
  await database.close();
}
process.exit(missed === 0 ? 0 : 1);

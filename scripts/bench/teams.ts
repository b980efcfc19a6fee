/**
 * What teams cost a request (issue 13): a caller in 50 groups nested 3 deep, holding 5 role grants
 * of 10 scopes each through them, against the same caller's 50 scopes granted directly, in the
 * same run, with the authentication cache on (hits) and off (every request reads its grants).
 * Then whoCan's first page through a group of 1,000 members and of 100,000 (target < 100 ms),
 * the members written straight into the bench database (the API would take minutes).
 * Needs DATABASE_URL pointing at a PostgreSQL server it may create a database on.
 * Usage: npm run build && npm run bench:teams
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';
import {
  CONNECTIONS,
  gql,
  load,
  median,
  ROUNDS,
  SECONDS,
  startChild,
  stopChild,
} from './http-load.js';

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const SCOPES = Array.from({ length: 50 }, (_, i) => `bench.s${String(i).padStart(2, '0')}:read`);

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'bench:teams needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

const database = `kh_bench_teams_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${database}`;
const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const children: ChildProcess[] = [];

/** Sets up the two callers through the API; returns each one's id and key. */
async function seed(url: string) {
  const as = (query: string) => gql(url, ADMIN_KEY, query);
  const person = async (name: string) => {
    const id = (
      await as(`mutation { createIdentity(input: { name: "${name}", kind: USER }) { id } }`)
    ).createIdentity.id as string;
    const key = (
      await as(
        `mutation { createApiKey(input: { identityId: "${id}", name: "bench" }) { secret } }`,
      )
    ).createApiKey.secret as string;
    return { id, key };
  };
  for (const scope of SCOPES) {
    await as(`mutation { defineScope(input: { name: "${scope}" }) { name } }`);
  }
  const direct = await person('direct');
  for (const scope of SCOPES) {
    await as(
      `mutation { grant(input: { identityId: "${direct.id}", scope: "${scope}", reason: "bench" }) { id } }`,
    );
  }
  const member = await person('member');
  const group = async (name: string) =>
    (await as(`mutation { createGroup(input: { name: "${name}" }) { id } }`)).createGroup
      .id as string;
  const nest = (parent: string, members: string) =>
    as(
      `mutation { addGroupMembers(input: { groupId: "${parent}", ${members}, reason: "bench" }) { id } }`,
    );
  // 5 teams of 10 groups each, 3 deep: a top group, 3 under it, 2 under each of those; the member
  // is in all 30 leaves, so in 50 groups. Each top group holds one role of 10 scopes.
  for (let t = 0; t < 5; t += 1) {
    const role = `bench-role-${t}`;
    const scopes = SCOPES.slice(t * 10, t * 10 + 10)
      .map((s) => `{ scope: "${s}" }`)
      .join(', ');
    await as(`mutation { defineRole(input: { name: "${role}", scopes: [${scopes}] }) { name } }`);
    const top = await group(`bench-top-${t}`);
    for (let m = 0; m < 3; m += 1) {
      const mid = await group(`bench-mid-${t}-${m}`);
      await nest(top, `groupIds: ["${mid}"]`);
      for (let l = 0; l < 2; l += 1) {
        const leaf = await group(`bench-leaf-${t}-${m}-${l}`);
        await nest(mid, `groupIds: ["${leaf}"]`);
        await nest(leaf, `identityIds: ["${member.id}"]`);
      }
    }
    await as(
      `mutation { grant(input: { groupId: "${top}", role: "${role}", reason: "bench" }) { id } }`,
    );
  }
  return { direct, member };
}

/** whoCan's first page, median and p95 of 30 calls, for a group of 1,000 and of 100,000 members. */
async function whoCanAtScale(url: string) {
  const db = postgres(benchUrl.href, { max: 1, onnotice: () => {} });
  try {
    const [adminRow] = await db<{ id: string }[]>`
      select id from identities where name = 'bootstrap-admin'`;
    const group = (
      await gql(url, ADMIN_KEY, 'mutation { createGroup(input: { name: "bench-big" }) { id } }')
    ).createGroup.id as string;
    await gql(
      url,
      ADMIN_KEY,
      `mutation { grant(input: { groupId: "${group}", role: "bench-role-0", reason: "bench" }) { id } }`,
    );
    const addMembers = async (from: number, to: number) => {
      await db`
        with people as (
          insert into identities (kind, name, audit_seq)
          select 'USER', 'bench-m-' || lpad(n::text, 6, '0'), 0 from generate_series(${from}::int, ${to - 1}::int) n
          returning id)
        insert into group_members (group_id, member_identity_id, reason, added_by, audit_seq)
        select ${group}::uuid, id, 'bench', ${adminRow?.id ?? null}::uuid, 0 from people`;
      await db`analyze`;
    };
    const query = `{ whoCan(scope: "bench.s00:read", first: 50) { nodes { identityId path { role } } } }`;
    const count = `{ whoCan(scope: "bench.s00:read", first: 1) { totalCount } }`;
    const time = async () => {
      const ms: number[] = [];
      let total = 0;
      for (let i = 0; i < 33; i += 1) {
        const started = performance.now();
        await gql(url, ADMIN_KEY, query);
        if (i >= 3) ms.push(performance.now() - started);
      }
      const counting = performance.now();
      total = (await gql(url, ADMIN_KEY, count)).whoCan.totalCount as number;
      const countMs = performance.now() - counting;
      ms.sort((a, b) => a - b);
      return {
        total,
        countMs,
        median: median(ms),
        p95: ms[Math.floor(ms.length * 0.95)] ?? Number.NaN,
      };
    };
    await addMembers(0, 1_000);
    const small = await time();
    await addMembers(1_000, 100_000);
    const large = await time();
    console.log('\nwhoCan first page (50 holders), over HTTP, 30 calls:');
    for (const [label, r] of [
      ['1,000 members', small],
      ['100,000 members', large],
    ] as const) {
      console.log(
        `  ${label.padEnd(16)} holders ${String(r.total).padStart(6)}  page median ${r.median.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  (totalCount alone ${r.countMs.toFixed(0)} ms)`,
      );
    }
    console.log(
      `  100k / 1k: ${(large.median / small.median).toFixed(1)}× (target: 100k under 100 ms)`,
    );
  } finally {
    await db.end();
  }
}

try {
  const cached = await startChild(
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
  children.push(cached.child);
  const { direct, member } = await seed(cached.url);
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
  children.push(uncached.child);

  const query =
    'query Check($id: ID!) { check(identityId: $id, scope: "bench.s00:read") { allowed } }';
  for (const caller of [direct, member]) {
    const answer = await gql(cached.url, caller.key, query, { id: caller.id });
    if (answer.check.allowed !== true) throw new Error('A benchmark caller is not allowed.');
  }
  const groups = await gql(cached.url, member.key, '{ me { groups { name } } }');
  console.log(`member belongs to ${groups.me.groups.length} groups`);

  const backends = async () =>
    (
      await admin.unsafe<{ pid: number }[]>('select pid from pg_stat_activity where datname = $1', [
        database,
      ])
    ).map((row) => row.pid);
  const variants = [
    { server: cached, cache: 'cache on' },
    { server: uncached, cache: 'cache off' },
  ].flatMap(({ server, cache }) =>
    [
      { who: 'direct', caller: direct },
      { who: 'member', caller: member },
    ].map(({ who, caller }) => ({
      name: `${cache}, ${who}`,
      target: { url: server.url, key: caller.key, pid: server.child.pid as number },
      body: JSON.stringify({ query, variables: { id: caller.id }, operationName: 'Check' }),
    })),
  );
  for (const v of variants) await load(v.target, v.body, backends); // warm-up, discarded
  const runs = new Map(
    variants.map((v) => [v.name, { rps: [] as number[], us: [] as number[], errors: 0 }]),
  );
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const r = await load(v.target, v.body, backends);
      const entry = runs.get(v.name) as { rps: number[]; us: number[]; errors: number };
      entry.rps.push(r.rps);
      entry.us.push(r.serverUs + r.databaseUs);
      entry.errors += r.errors;
    }
  }
  console.log(
    `\nself check, ${ROUNDS} rounds × ${SECONDS}s, ${CONNECTIONS} connections, medians (CPU: server + database µs per request):`,
  );
  for (const v of variants) {
    const r = runs.get(v.name) as { rps: number[]; us: number[]; errors: number };
    console.log(
      `  ${v.name.padEnd(20)} ${median(r.rps).toFixed(0).padStart(6)} req/s  CPU ${median(r.us).toFixed(0)} µs  errors ${r.errors}`,
    );
  }
  for (const cache of ['cache on', 'cache off']) {
    const d = runs.get(`${cache}, direct`) as { rps: number[]; us: number[] };
    const m = runs.get(`${cache}, member`) as { rps: number[]; us: number[] };
    console.log(
      `  ${cache}: member / direct cost ${(median(m.us) / median(d.us)).toFixed(2)}× CPU, ${(median(d.rps) / median(m.rps)).toFixed(2)}× time per request (target ≤ 1.20×)`,
    );
  }
  await whoCanAtScale(cached.url);
} finally {
  for (const child of children) await stopChild(child).catch(() => {});
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

/**
 * No lost change events under load (audit issue): two Keyholder processes on one fresh PostgreSQL
 * database, `WORKERS` concurrent clients per instance granting and revoking over HTTP for
 * `DURATION_S` seconds, then every grant and revocation is counted against its audit event in SQL
 * and the chain is verified through `verifyAuditLog`. Exits 1 on any loss, duplicate, orphan event,
 * broken chain or unexpected error. See scripts/bench/README.md.
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/audit-load.js
 */
import postgres from 'postgres';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { graphqlData, postGraphql } from './post-graphql.js';

/** One line of the report: what was counted, its value, and whether it passes. */
type Check = [name: string, value: number | string, ok: boolean];

const DURATION_S = Number(process.env.DURATION_S ?? 60);
const WORKERS = Number(process.env.WORKERS ?? 8);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
/** Of the grants a worker creates, the share it revokes at once (on a random instance). */
const REVOKE_AT_ONCE = 0.6;
/** The chance per iteration of also revoking a grant left active earlier, by any worker. */
const REVOKE_FROM_POOL = 0.4;
/** The chance that a grant revoked from the pool stays in it, so a second revocation races it. */
const LEAVE_IN_POOL = 0.2;
const IDENTITIES = 6;
const SCOPES = ['bench-orders:read', 'bench-orders:write'];
const RESOURCES = 400;

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'audit-load needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

const GRANT = `mutation Grant($input: GrantInput!) { grant(input: $input) { id } }`;
const REVOKE = `mutation Revoke($id: ID!, $reason: String!) { revokeGrant(id: $id, reason: $reason) { id } }`;

interface InstanceStats {
  readonly name: string;
  grants: number;
  revokes: number;
  /** Error answers by `extensions.code` (NETWORK when the request itself failed). */
  readonly errors: Map<string, number>;
}

const pick = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)] as T;

/** The `extensions.code` of a failed call, or null when it succeeded. */
async function call(
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ code: string | null; data: Record<string, unknown> | null }> {
  try {
    const answer = await postGraphql(url, ADMIN_KEY, query, variables);
    if (answer.errors !== undefined && answer.errors.length > 0) {
      return { code: answer.errors[0]?.extensions?.code ?? 'NO_CODE', data: null };
    }
    return { code: null, data: answer.data ?? null };
  } catch {
    return { code: 'NETWORK', data: null };
  }
}

function countError(stats: InstanceStats, code: string): void {
  stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
}

const database = `kh_bench_load_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${database}`;
const sqlClient = postgres(benchUrl.href, { max: 1, onnotice: () => {} });
const keyholders: KeyholderProcess[] = [];
let failed = false;
try {
  const a = await startKeyholderProcess(benchUrl.href, ADMIN_KEY);
  keyholders.push(a);
  const b = await startKeyholderProcess(benchUrl.href, ADMIN_KEY);
  keyholders.push(b);

  const identityIds: string[] = [];
  for (let i = 0; i < IDENTITIES; i += 1) {
    const data = await graphqlData(
      a.url,
      ADMIN_KEY,
      `mutation { createIdentity(input: { name: "load-${i}", kind: SERVICE }) { id } }`,
    );
    identityIds.push(data.createIdentity.id as string);
  }
  for (const scope of SCOPES) {
    await graphqlData(
      a.url,
      ADMIN_KEY,
      `mutation { defineScope(input: { name: "${scope}" }) { name } }`,
    );
  }

  const instances = [
    { url: a.url, stats: { name: 'A', grants: 0, revokes: 0, errors: new Map() } },
    { url: b.url, stats: { name: 'B', grants: 0, revokes: 0, errors: new Map() } },
  ] satisfies { url: string; stats: InstanceStats }[];
  const acknowledgedGrants = new Set<string>();
  const acknowledgedRevokes = new Set<string>();
  /** Grants left active, which any worker may later revoke. */
  const pool: string[] = [];

  const revoke = async (id: string) => {
    const instance = pick(instances);
    const result = await call(instance.url, REVOKE, { id, reason: 'load benchmark' });
    if (result.code === null) {
      instance.stats.revokes += 1;
      acknowledgedRevokes.add(id);
    } else countError(instance.stats, result.code);
  };

  const [runStart] = await sqlClient<{ at: Date }[]>`select clock_timestamp() as at`;
  const started = performance.now();
  const deadline = started + DURATION_S * 1000;
  const worker = async (instance: (typeof instances)[number]) => {
    while (performance.now() < deadline) {
      const input: Record<string, unknown> = {
        identityId: pick(identityIds),
        scope: pick(SCOPES),
        resource: `res-${Math.floor(Math.random() * RESOURCES)}`,
        reason: 'load benchmark',
      };
      const result = await call(instance.url, GRANT, { input });
      if (result.code === null) {
        instance.stats.grants += 1;
        const id = (result.data as { grant: { id: string } }).grant.id;
        acknowledgedGrants.add(id);
        if (Math.random() < REVOKE_AT_ONCE) await revoke(id);
        else pool.push(id);
      } else countError(instance.stats, result.code);
      if (pool.length > 0 && Math.random() < REVOKE_FROM_POOL) {
        const index = Math.floor(Math.random() * pool.length);
        const id = pool[index] as string;
        if (Math.random() >= LEAVE_IN_POOL) pool.splice(index, 1);
        await revoke(id);
      }
    }
  };
  await Promise.all(
    instances.flatMap((instance) => Array.from({ length: WORKERS }, () => worker(instance))),
  );
  const seconds = (performance.now() - started) / 1000;

  const since = (runStart as { at: Date }).at;
  const [counts] = await sqlClient<Record<string, string>[]>`
    with created as (
      select subject_id, count(*) as n from audit_events where action = 'grant.created' group by subject_id
    ), revoked as (
      select subject_id, count(*) as n from audit_events where action = 'grant.revoked' group by subject_id
    ), run as (select * from grants where created_at >= ${since})
    select
      (select count(*) from run) as grants_in_run,
      (select count(*) from run where revoked_at is not null) as revoked_in_run,
      (select count(*) from audit_events where action = 'grant.created' and at >= ${since}) as created_events_in_run,
      (select count(*) from audit_events where action = 'grant.revoked' and at >= ${since}) as revoked_events_in_run,
      (select count(*) from run g where not exists (select 1 from created c where c.subject_id = g.id::text)) as missing_created,
      (select count(*) from run g join created c on c.subject_id = g.id::text where c.n > 1) as duplicate_created,
      (select count(*) from run g where g.revoked_at is not null
         and not exists (select 1 from revoked r where r.subject_id = g.id::text)) as missing_revoked,
      (select count(*) from grants g join revoked r on r.subject_id = g.id::text where r.n > 1) as duplicate_revoked,
      (select count(*) from grants g join revoked r on r.subject_id = g.id::text where g.revoked_at is null) as revoked_event_on_active_grant,
      (select count(*) from audit_events e where e.action like 'grant.%'
         and not exists (select 1 from grants g where g.id::text = e.subject_id)) as events_naming_no_grant,
      (select count(*) from grants g where g.created_at < ${since}
         and not exists (select 1 from created c where c.subject_id = g.id::text)) as earlier_grants_without_created_event,
      (select count(*) from audit_events) as audit_events`;
  const c = Object.fromEntries(
    Object.entries(counts as Record<string, string>).map(([k, v]) => [k, Number(v)]),
  );
  const [acked] = await sqlClient<{ present: string; revoked: string }[]>`
    select
      (select count(*) from grants where id = any(${[...acknowledgedGrants]}::uuid[])) as present,
      (select count(*) from grants where id = any(${[...acknowledgedRevokes]}::uuid[]) and revoked_at is not null) as revoked`;
  const verification = (
    await graphqlData(
      b.url,
      ADMIN_KEY,
      '{ verifyAuditLog { ok checked walked firstBrokenId reason lastSeq } }',
    )
  ).verifyAuditLog as {
    ok: boolean;
    checked: number;
    walked: number;
    firstBrokenId: string | null;
    reason: string | null;
    lastSeq: string | null;
  };
  // Like with like: access events keep arriving after the counts above, so compare what
  // verification vouched for with the rows up to the seq it reached.
  const [verifiedRows] = await sqlClient<{ n: string }[]>`
    select count(*) as n from audit_events where seq <= ${Number(verification.lastSeq ?? 0)}`;
  const vouched = Number(verifiedRows?.n ?? -1);

  const unexpected = instances.flatMap((i) =>
    [...i.stats.errors.entries()].filter(([code]) => code !== 'CONFLICT'),
  );
  const unexpectedCount = unexpected.reduce((sum, [, n]) => sum + n, 0);
  const lostAcknowledged =
    acknowledgedGrants.size -
    Number(acked?.present ?? 0) +
    (acknowledgedRevokes.size - Number(acked?.revoked ?? 0));

  console.log(
    `\naudit under load: ${DURATION_S}s, ${WORKERS} workers per instance, grant then revoke (${REVOKE_AT_ONCE * 100}% at once, the rest later from a shared pool, on either instance)`,
  );
  console.log(
    '| instance | grants/s | revokes/s | changes/s | grants | revokes | errors by code |',
  );
  console.log('|:--|--:|--:|--:|--:|--:|:--|');
  for (const { stats } of instances) {
    const errors = [...stats.errors.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
    console.log(
      `| ${stats.name} | ${(stats.grants / seconds).toFixed(1)} | ${(stats.revokes / seconds).toFixed(1)} | ${((stats.grants + stats.revokes) / seconds).toFixed(1)} | ${stats.grants} | ${stats.revokes} | ${errors || 'none'} |`,
    );
  }
  const mustBeZero = (name: string, value: number | undefined): Check => [
    name,
    value ?? 0,
    (value ?? 0) === 0,
  ];
  const checks: Check[] = [
    ['grants acknowledged to clients', acknowledgedGrants.size, true],
    [
      'grants rows created during the run',
      c.grants_in_run ?? 0,
      c.grants_in_run === acknowledgedGrants.size || unexpectedCount > 0,
    ],
    [
      'grant.created events during the run',
      c.created_events_in_run ?? 0,
      c.created_events_in_run === c.grants_in_run,
    ],
    ['revocations acknowledged to clients', acknowledgedRevokes.size, true],
    [
      'grants revoked during the run',
      c.revoked_in_run ?? 0,
      c.revoked_in_run === acknowledgedRevokes.size || unexpectedCount > 0,
    ],
    [
      'grant.revoked events during the run',
      c.revoked_events_in_run ?? 0,
      c.revoked_events_in_run === c.revoked_in_run,
    ],
    mustBeZero('acknowledged changes not in the grants table', lostAcknowledged),
    mustBeZero('grants without their grant.created event (missing)', c.missing_created),
    mustBeZero('grants with more than one grant.created (duplicates)', c.duplicate_created),
    mustBeZero('revoked grants without their grant.revoked event (missing)', c.missing_revoked),
    mustBeZero('grants with more than one grant.revoked (duplicates)', c.duplicate_revoked),
    mustBeZero(
      'grant.revoked events on a grant that is not revoked',
      c.revoked_event_on_active_grant,
    ),
    mustBeZero('grant events naming a grant that does not exist', c.events_naming_no_grant),
    mustBeZero('unexpected errors (anything but CONFLICT)', unexpectedCount),
    mustBeZero(
      'grants from before the run without their grant.created event (bootstrap)',
      c.earlier_grants_without_created_event,
    ),
    [
      'verifyAuditLog (entries up to the seq it reached)',
      `ok ${verification.ok}, checked ${verification.checked} of ${vouched} (re-hashed ${verification.walked})${verification.reason ? `: ${verification.reason}` : ''}`,
      verification.ok && verification.checked === vouched && vouched >= (c.audit_events ?? 0),
    ],
  ];
  console.log('\n| check | value | |\n|:--|--:|:--|');
  for (const [name, value, ok] of checks) {
    console.log(`| ${name} | ${value} | ${ok ? 'ok' : '**FAIL**'} |`);
    if (!ok) failed = true;
  }
  console.log(failed ? '\nRESULT: FAIL' : '\nRESULT: no lost, duplicated or orphan change events');
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  for (const keyholder of keyholders) await stopKeyholderProcess(keyholder).catch(() => {});
  await sqlClient.end({ timeout: 5 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}
process.exit(failed ? 1 : 0);

/**
 * The seed of bench:growth (and bench:pglite-start): grants, identities, scopes and their audit
 * events written by direct SQL the way the API writes them, then synthetic traffic, all sealed.
 * See scripts/bench/README.md, `growth`.
 */
import type { Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import {
  CHAINED_COLUMNS,
  type ChainedEvent,
  sealEvents,
} from '../../src/modules/audit/audit-chain.js';
import { bootstrap } from '../../src/modules/identities/bootstrap.js';
import { ensureAuditEvents, SCOPE_COUNT, scopeNameSql } from './generate-audit-events.js';

/** Identities seeded whatever the number of grants. */
export const GROWTH_IDENTITIES = 10_000;
const GRANTERS = 50;
const CHUNK = 50_000;
const seconds = (from: number) => (performance.now() - from) / 1000;

/** Identity `n` (0 ≤ n < GROWTH_GROWTH_IDENTITIES) has the id of the generator's actor `n`: low `n` are busy. */
export const identitySql = (n: string) => `md5('actor-' || (${n}))::uuid`;

/**
 * Writes the `grant.created` event of every grant that has none yet (through the chain trigger,
 * in creation order) and stamps each grant with its event's `seq`, as the API would have.
 */
const GRANT_CREATED_EVENTS_SQL = `with ev as (
   insert into audit_events (action, actor_id, subject_id, details)
   select 'grant.created', g.granted_by, g.id::text,
          jsonb_build_object('scopes', jsonb_build_array(g.scope),
            'after', jsonb_build_object('identityId', g.identity_id, 'scope', g.scope,
              'resource', g.resource, 'grantable', g.grantable, 'expiresAt', g.expires_at),
            'reason', g.reason)
   from grants g where g.audit_seq is null order by g.created_at, g.id
   returning seq, subject_id)
 update grants g set audit_seq = ev.seq from ev where g.id = ev.subject_id::uuid`;

/**
 * Gives `identityId` `count` grants of `scope`, on resources `held-0`, `held-1`, …, as the API
 * writes them (each with its `grant.created` event, stamped with its `seq`, and sealed) but in
 * three statements: for benchmarks whose caller holds thousands of grants. Run it before any
 * server has read the identity's grants (a server learns of changes the API makes, not of these).
 */
export async function seedHeldGrants(
  database: Database,
  identityId: string,
  scope: string,
  count: number,
): Promise<void> {
  await database.query(
    `insert into grants (identity_id, scope, resource, reason, granted_by)
     select i.id, $2, 'held-' || n, 'bench: a caller holding many grants', i.created_by
     from identities i, generate_series(0, $3::int - 1) n where i.id = $1::uuid`,
    [identityId, scope, count],
  );
  await database.query(GRANT_CREATED_EVENTS_SQL);
  await sealRemaining(database);
}

/**
 * Migrates, then seeds `size` grants and what they rest on as the API writes them (each creating
 * event through the chain trigger, the row stamped with its `seq`), then `traffic` synthetic
 * events (default `max(size, 10,000)`), then seals every event with the active audit keys.
 * Does nothing but migrate when the database already holds the seeded grants; on PGlite give
 * `databaseUrl` as ''. The bootstrap admin's key is `adminKey`.
 */
export async function seedGrowth(
  database: Database,
  databaseUrl: string,
  options: { readonly size: number; readonly adminKey: string; readonly traffic?: number },
): Promise<void> {
  const { size, adminKey } = options;
  await runMigrations(database, databaseUrl);
  const [seeded] = await database.query<{ n: string }>(
    `select count(*)::text as n from grants where reason like 'INC-%'`,
  );
  if (Number(seeded?.n ?? 0) >= size) {
    console.log(`  found ${seeded?.n} seeded grants: seeding skipped (REGENERATE=1 to redo it)`);
    return;
  }
  const started = performance.now();
  const boot = await bootstrap(database, adminKey);
  const adminId = boot.admin?.id;
  if (adminId === undefined) throw new Error('The database was not empty: run with REGENERATE=1.');
  await database.query(
    `with s as (
       insert into scopes (name, resource, action, description, created_by)
       select n.name, split_part(n.name, ':', 1), split_part(n.name, ':', 2),
              'Seeded by bench:growth.', $1::uuid
       from (select ${scopeNameSql('k')} as name from generate_series(0, ${SCOPE_COUNT - 1}) k) n
       returning name, description)
     insert into audit_events (action, actor_id, subject_id, details)
     select 'scope.defined', $1::uuid, name, jsonb_build_object('scopes', jsonb_build_array(name),
              'after', jsonb_build_object('name', name, 'description', description))
     from s order by name`,
    [adminId],
  );
  await database.query(
    `insert into identities (id, kind, name, created_by, created_at)
     select ${identitySql('n')}, case when n % 4 = 0 then 'USER' else 'SERVICE' end::identity_kind,
            'growth-' || n, $1::uuid, now() - interval '500 days' + n * interval '1 minute'
     from generate_series(0, ${GROWTH_IDENTITIES - 1}) n`,
    [adminId],
  );
  await database.query(
    `with ev as (
       insert into audit_events (action, actor_id, subject_id, details)
       select 'identity.created', $1::uuid, i.id::text,
              jsonb_build_object('after', jsonb_build_object('name', i.name, 'kind', i.kind),
                'reason', 'provisioned by the platform team')
       from identities i where i.audit_seq is null order by i.created_at, i.id
       returning seq, subject_id)
     update identities i set audit_seq = ev.seq from ev where i.id = ev.subject_id::uuid`,
    [adminId],
  );
  for (let from = 0; from < size; from += CHUNK) {
    const to = Math.min(size, from + CHUNK) - 1;
    // Scopes skewed like the generator's (k = 300·u⁴), granters skewed (the first one busiest),
    // a third for every resource, a fifth expiring, created in order over the past 400 days.
    await database.query(
      `insert into grants (id, identity_id, scope, resource, reason, granted_by, grantable,
                           created_at, expires_at)
       select md5('growth-grant-' || n)::uuid,
              ${identitySql(`floor(random() * ${GROWTH_IDENTITIES})::int`)},
              ${scopeNameSql('k')},
              case when random() < 0.34 then null else 'ord-' || floor(random() * 100000)::int end,
              'INC-' || n || ': access for the on-call rotation',
              ${identitySql(`floor(${GRANTERS} * power(random(), 3))::int`)},
              random() < 0.05,
              now() - interval '400 days' + (n::float8 / $3) * interval '399 days',
              case when random() < 0.2 then now() + interval '30 days' + random() * interval '300 days' end
       from (select n, floor(${SCOPE_COUNT} * power(random(), 4))::int as k
             from generate_series($1::bigint, $2::bigint) n) s`,
      [from, to, size],
    );
    await database.query(GRANT_CREATED_EVENTS_SQL);
    // One in twenty revoked, a day after it was granted, with its event.
    await database.query(
      `with r as (
         update grants g set revoked_at = g.created_at + interval '1 day', revoked_by = g.granted_by,
                revoke_reason = 'no longer needed'
         where g.id in (select md5('growth-grant-' || n)::uuid
                        from generate_series($1::bigint, $2::bigint) n where n % 20 = 7)
         returning g.*)
       insert into audit_events (action, actor_id, subject_id, details)
       select 'grant.revoked', r.revoked_by, r.id::text,
              jsonb_build_object('scopes', jsonb_build_array(r.scope),
                'before', jsonb_build_object('identityId', r.identity_id, 'scope', r.scope,
                  'resource', r.resource),
                'active', true, 'reason', r.revoke_reason)
       from r order by r.created_at, r.id`,
      [from, to],
    );
    console.log(`  seeded ${to + 1} grants in ${seconds(started).toFixed(1)} s`);
  }
  await database.query(
    `insert into grant_usage (grant_id, last_used_at, use_count)
     select id, now() - random() * interval '90 days', 1 + floor(random() * 1000)::int
     from grants where reason like 'INC-%' and random() < 0.5`,
  );
  const [events] = await database.query<{ n: string }>(
    'select count(*)::text as n from audit_events',
  );
  await ensureAuditEvents(database, databaseUrl, {
    events: Number(events?.n ?? 0) + (options.traffic ?? Math.max(size, GROWTH_IDENTITIES)),
    log: (line) => console.log(`  traffic:${line}`),
  });
  const sealed = await sealRemaining(database);
  await database.query('analyze');
  console.log(`  sealed ${sealed} events; seeded in ${seconds(started).toFixed(1)} s`);
}

/** Seals, as the server's writers do, the events after the last sealed one. */
export async function sealRemaining(database: Database): Promise<number> {
  let sealed = 0;
  for (;;) {
    const rows = await database.query<ChainedEvent & Record<string, unknown>>(
      `select ${CHAINED_COLUMNS} from audit_events e
       where e.seq > (select coalesce(max(seq), 0) from audit_seals) order by e.seq limit 10000`,
    );
    if (rows.length === 0) return sealed;
    await database.db.transaction((tx) => sealEvents(tx, rows));
    sealed += rows.length;
  }
}

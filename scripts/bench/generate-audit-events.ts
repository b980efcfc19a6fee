/**
 * Fills a PostgreSQL database with synthetic audit events for the search benchmark, through the
 * chain trigger (rows get `seq`, `at`, `prev_hash` and `hash` like any other and verify), in
 * set-based chunks. Standalone: DATABASE_URL=postgres://…/db EVENTS=1000000
 * node dist/scripts/bench/generate-audit-events.js (the database must exist).
 */
import type { Database } from '../../src/db/client.js';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';

/** What `ensureAuditEvents` found or did. */
export interface GeneratedEvents {
  /** Rows in `audit_events` afterwards. */
  readonly rows: number;
  /** Rows this call inserted (0 when the database already held enough). */
  readonly inserted: number;
  readonly seconds: number;
}

export interface GenerateOptions {
  /** How many events the database should hold at least. */
  readonly events: number;
  /** Rows per `INSERT … SELECT` statement. @default 20000 */
  readonly chunk?: number;
  readonly log?: (line: string) => void;
}

/** How many scopes events name, and how many actors write them. */
export const SCOPE_COUNT = 300;
export const ACTOR_COUNT = 2000;

/**
 * The name of scope `k` (0 ≤ k < SCOPE_COUNT): `orders:read`, `orders:write`, `orders:execute`,
 * `invoices:read`, … then `orders.1:read`, … Low `k` are the common ones.
 */
export function scopeName(k: number): string {
  const resources = RESOURCES[Math.floor(k / 3) % RESOURCES.length] as string;
  const version = Math.floor(k / 30);
  return `${resources}${version === 0 ? '' : `.${version}`}:${ACTIONS[k % 3]}`;
}

const RESOURCES = [
  'orders',
  'invoices',
  'payments',
  'customers',
  'reports',
  'tickets',
  'billing',
  'inventory',
  'shipments',
  'documents',
];
const ACTIONS = ['read', 'write', 'execute'];

/** `scopeName` in SQL, of the integer expression `k`. */
export const scopeNameSql = (k: string) => `format('%s%s:%s',
  (array['${RESOURCES.join("','")}'])[1 + (${k} / 3) % ${RESOURCES.length}],
  case when ${k} / 30 = 0 then '' else '.' || (${k} / 30)::text end,
  (array['${ACTIONS.join("','")}'])[1 + ${k} % 3])`;

/** Actor `n` (0 ≤ n < ACTOR_COUNT) is `md5('actor-' || n)::uuid`; low `n` are the busy ones. */
export const actorIdSql = (n: string) => `md5('actor-' || ${n})::uuid`;

// One statement per chunk. Each row draws an action (75 % access.allowed, 5 % access.denied, 12 %
// grant.*, the rest identity/apikey/scope changes), a skewed actor (n = 2000·u³: actor 0 writes
// ~8 %, the rarest a few hundred events per million) and 1–3 skewed scopes (k = 300·u⁴: the first
// scope is named by ~24 % of events, the last by well under 0.1 %). `details` mirrors what the
// services write (before/after, reason, request) and what access events will carry
// (operationName, documentHash, allowed/denied coordinates); 300–600 bytes as jsonb text.
const INSERT_CHUNK = `
with src as (
  select i,
         random() as u_action,
         floor(${ACTOR_COUNT} * power(random(), 3))::int as actor_n,
         1 + (random() < 0.35)::int + (random() < 0.15)::int as scope_count,
         floor(${SCOPE_COUNT} * power(random(), 4))::int as s1,
         floor(${SCOPE_COUNT} * power(random(), 4))::int as s2,
         floor(${SCOPE_COUNT} * power(random(), 4))::int as s3,
         floor(random() * 60000)::int as grant_n,
         floor(random() * ${ACTOR_COUNT})::int as identity_n,
         floor(random() * 100000)::int as resource_n,
         floor(random() * 40)::int as op_n
  from generate_series($1::bigint, $2::bigint) as i
), typed as (
  select src.*,
         case
           when u_action < 0.75 then 'access.allowed'
           when u_action < 0.80 then 'access.denied'
           when u_action < 0.87 then 'grant.created'
           when u_action < 0.92 then 'grant.revoked'
           when u_action < 0.94 then 'identity.created'
           when u_action < 0.95 then 'identity.disabled'
           when u_action < 0.97 then 'apikey.created'
           when u_action < 0.985 then 'apikey.revoked'
           else 'scope.defined'
         end as action,
         (select jsonb_agg(distinct n.name) from (
            select s, ${scopeNameSql('s')} as name
            from unnest(array[s1, s2, s3]) with ordinality as t(s, o)
            where o <= scope_count
          ) as n) as scopes
  from src
)
insert into audit_events (action, actor_id, subject_id, details)
select action,
       ${actorIdSql('actor_n')},
       case
         when action like 'access.%' then 'ord-' || resource_n
         when action like 'grant.%' then md5('grant-' || grant_n)::uuid::text
         when action like 'identity.%' then ${actorIdSql('identity_n')}::text
         when action like 'apikey.%' then md5('key-' || grant_n)::uuid::text
         else scopes ->> 0
       end,
       jsonb_build_object(
         'scopes', scopes,
         'request', jsonb_build_object(
           'id', md5('request-' || i)::uuid,
           'ip', '10.' || (actor_n % 250) || '.' || (resource_n % 250) || '.' || (op_n + 1),
           'userAgent', 'keyholder-client/2.' || (actor_n % 7) || ' (node 20; +https://example.com/ops)')
       ) || case
         when action like 'access.%' then jsonb_build_object(
           'operationName', (array['ListOrders','GetInvoice','CreatePayment','SearchCustomers',
             'ExportReport','UpdateTicket'])[1 + op_n % 6] || op_n,
           'documentHash', md5('doc-' || op_n) || md5('hash-' || op_n),
           'allowed', jsonb_build_array('Query.orders', 'Order.total', 'Order.customer'),
           'denied', case when action = 'access.denied'
                          then jsonb_build_array('Order.paymentMethod', 'Customer.email')
                          else '[]'::jsonb end,
           'keyId', md5('key-' || actor_n)::uuid)
         when action like 'grant.%' then jsonb_build_object(
           case when action = 'grant.created' then 'after' else 'before' end,
           jsonb_build_object('identityId', ${actorIdSql('identity_n')}, 'scope', scopes ->> 0,
             'resource', case when resource_n % 3 = 0 then null else 'ord-' || resource_n end,
             'grantable', resource_n % 10 = 0, 'expiresAt', null),
           'reason', 'INC-' || resource_n || ': temporary access for the on-call engineer',
           'authorityGrantIds', jsonb_build_array(md5('grant-' || (grant_n / 7))::uuid))
         when action like 'identity.%' then jsonb_build_object(
           'after', jsonb_build_object('name', 'service-' || identity_n, 'kind', 'SERVICE',
             'status', case when action = 'identity.created' then 'ACTIVE' else 'DISABLED' end),
           'reason', 'provisioned by the platform team')
         when action like 'apikey.%' then jsonb_build_object(
           'after', jsonb_build_object('identityId', ${actorIdSql('identity_n')},
             'name', 'deploy-' || grant_n, 'prefix', 'kh_' || left(md5('key-' || grant_n), 8)),
           'reason', 'key rotation')
         else jsonb_build_object('after', jsonb_build_object('name', scopes ->> 0,
           'description', 'Defined by the platform team for the service catalogue.'))
       end
from typed
order by i`;

/** Rows in `audit_events`. */
export async function countAuditEvents(database: Database): Promise<number> {
  const [row] = await database.query<{ n: string }>('select count(*)::text as n from audit_events');
  return Number(row?.n ?? 0);
}

/**
 * Migrates the database, then appends synthetic events until it holds at least `events` rows, in
 * `INSERT … SELECT … FROM generate_series` statements of `chunk` rows through the chain and scope
 * triggers; `ANALYZE`s the audit tables after inserting. Does nothing but count when the database
 * already holds enough.
 */
export async function ensureAuditEvents(
  database: Database,
  databaseUrl: string,
  options: GenerateOptions,
): Promise<GeneratedEvents> {
  const log = options.log ?? console.log;
  const chunk = options.chunk ?? 20_000;
  await runMigrations(database, databaseUrl);
  const existing = await countAuditEvents(database);
  if (existing >= options.events) return { rows: existing, inserted: 0, seconds: 0 };
  const started = performance.now();
  let inserted = 0;
  let reported = 0;
  for (let next = existing; next < options.events; next += chunk) {
    const last = Math.min(options.events, next + chunk) - 1;
    await database.query(INSERT_CHUNK, [next, last]);
    inserted += last - next + 1;
    if (inserted - reported >= 100_000 || next + chunk >= options.events) {
      reported = inserted;
      const seconds = (performance.now() - started) / 1000;
      log(
        `  generated ${inserted} events in ${seconds.toFixed(1)} s (${(inserted / seconds).toFixed(0)} rows/s)`,
      );
    }
  }
  await database.query('analyze audit_events');
  await database.query('analyze audit_event_scopes');
  const seconds = (performance.now() - started) / 1000;
  return { rows: await countAuditEvents(database), inserted, seconds };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('generate-audit-events needs DATABASE_URL (the database to fill).');
    process.exit(2);
  }
  const database = await openDatabase({ databaseUrl, dataDir: '', poolSize: 1 });
  try {
    const result = await ensureAuditEvents(database, databaseUrl, {
      events: Number(process.env.EVENTS ?? 1_000_000),
    });
    console.log(
      `audit_events holds ${result.rows} rows (${result.inserted} inserted in ${result.seconds.toFixed(1)} s).`,
    );
  } finally {
    await database.close();
  }
}

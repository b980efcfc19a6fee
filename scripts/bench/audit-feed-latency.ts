/**
 * Live audit delivery across instances: two Keyholder processes on one PostgreSQL database, a
 * subscriber on B, changes made through A. For each change it records the time from sending the
 * mutation to A until the event arrives on B (an upper bound of commit-to-subscriber, since the
 * commit happens inside that window), beside the mutation's own round trip for scale.
 * Usage: npm run build && DATABASE_URL=postgres://… node dist/scripts/bench/audit-feed-latency.js
 */
import { createClient } from 'graphql-ws';
import postgres from 'postgres';
import WebSocket from 'ws';
import {
  type KeyholderProcess,
  startKeyholderProcess,
  stopKeyholderProcess,
} from './keyholder-process.js';
import { percentile } from './percentile.js';

const EVENTS = Number(process.env.EVENTS ?? 300);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error(
    'audit-feed-latency needs DATABASE_URL (a PostgreSQL server where it may create a database).',
  );
  process.exit(2);
}

const database = `kh_bench_feed_${Date.now()}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${database}`);
const url = new URL(adminUrl);
url.pathname = `/${database}`;
const children: KeyholderProcess[] = [];
try {
  const a = await startKeyholderProcess(url.href, ADMIN_KEY);
  children.push(a);
  const b = await startKeyholderProcess(url.href, ADMIN_KEY);
  children.push(b);

  const arrivals = new Map<string, number>();
  let notify: (() => void) | null = null;
  const client = createClient({
    url: `${b.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${ADMIN_KEY}` },
    retryAttempts: 0,
  });
  const subscribed = new Promise<void>((resolve) => {
    client.on('connected', () => setTimeout(resolve, 200));
  });
  client.subscribe<{ auditEvents: { subjectId: string } }>(
    { query: 'subscription { auditEvents(filter: { action: "identity.created" }) { subjectId } }' },
    {
      next: (result) => {
        const subject = result.data?.auditEvents.subjectId;
        if (subject) arrivals.set(subject, performance.now());
        notify?.();
      },
      error: (error) => console.error('subscription error', error),
      complete: () => {},
    },
  );
  await subscribed;

  const delivery: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < EVENTS; i += 1) {
    const started = performance.now();
    const response = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({
        query: `mutation { createIdentity(input: { name: "lat-${i}", kind: USER }) { id } }`,
      }),
    });
    const answered = performance.now();
    const body = (await response.json()) as { data: { createIdentity: { id: string } } };
    const id = body.data.createIdentity.id;
    while (!arrivals.has(id)) await new Promise<void>((resolve) => (notify = resolve));
    delivery.push((arrivals.get(id) as number) - started);
    roundTrip.push(answered - started);
  }
  await client.dispose();
  console.log(
    `\naudit event delivery across instances (A commits, B's subscriber receives), ${EVENTS} events:`,
  );
  for (const [name, values] of [
    ['send mutation to A -> event on B', delivery],
    ['send mutation to A -> A answers', roundTrip],
  ] as const) {
    console.log(
      `  ${name.padEnd(36)} p50 ${percentile(values, 50).toFixed(1)} ms  p99 ${percentile(values, 99).toFixed(1)} ms  max ${Math.max(...values).toFixed(1)} ms`,
    );
  }
} finally {
  for (const child of children) await stopKeyholderProcess(child);
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

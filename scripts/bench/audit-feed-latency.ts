/**
 * Live audit delivery across instances: two Keyholder processes on one PostgreSQL database, a
 * subscriber on B, changes made through A. For each change it records the time from sending the
 * mutation to A until the event arrives on B (an upper bound of commit-to-subscriber, since the
 * commit happens inside that window), beside the mutation's own round trip for scale.
 * With `SUBSCRIBERS` (a comma-separated list, default `1`) it runs once per count, each
 * subscriber on a socket of its own, all sharing the bootstrap key (`KEYS=shared`, the default)
 * or each with a key of its own (`KEYS=distinct`; `KEYS=shared,distinct` runs both); delivery is
 * then counted per subscriber, and B's authentication statements per event (its cache's misses,
 * from detailed `/healthz` on a `METRICS_PORT` listener) are reported beside the load average.
 * Usage: npm run build && DATABASE_URL=postgres://… SUBSCRIBERS=1,100,1000 \
 *   node dist/scripts/bench/audit-feed-latency.js
 */

import { loadavg } from 'node:os';
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
const SUBSCRIBERS = (process.env.SUBSCRIBERS ?? '1').split(',').map(Number);
const KEYS = (process.env.KEYS ?? 'shared').split(',') as ('shared' | 'distinct')[];
const METRICS_PORT = 20000 + Math.floor(Math.random() * 20000);
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
  const b = await startKeyholderProcess(url.href, ADMIN_KEY, {
    METRICS_PORT: String(METRICS_PORT),
  });
  children.push(b);

  const graphql = async <T>(query: string, key = ADMIN_KEY): Promise<T> => {
    const response = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query }),
    });
    const result = (await response.json()) as { data: T; errors?: unknown };
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data;
  };
  const cacheMisses = async (): Promise<number> => {
    const body = (await (await fetch(`http://127.0.0.1:${METRICS_PORT}/healthz`)).json()) as {
      authenticationCache: { misses: number };
    };
    return body.authenticationCache.misses;
  };
  /** `count` keys, each of an identity of its own holding audit:read. */
  const distinctKeys = async (count: number): Promise<string[]> => {
    const keys: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const { createIdentity } = await graphql<{ createIdentity: { id: string } }>(
        `mutation { createIdentity(input: { name: "watcher-${Date.now()}-${i}", kind: SERVICE }) { id } }`,
      );
      await graphql(
        `mutation { grant(input: { identityId: "${createIdentity.id}", scope: "audit:read", reason: "Bench." }) { id } }`,
      );
      const { createApiKey } = await graphql<{ createApiKey: { secret: string } }>(
        `mutation { createApiKey(input: { identityId: "${createIdentity.id}", name: "bench" }) { secret } }`,
      );
      keys.push(createApiKey.secret);
    }
    return keys;
  };

  let run = 0;
  for (const mode of KEYS) {
    for (const subscribers of SUBSCRIBERS) {
      run += 1;
      const keys = mode === 'shared' ? [ADMIN_KEY] : await distinctKeys(subscribers);
      const arrived = new Map<string, number[]>();
      const delivery: number[] = [];
      let notify: (() => void) | null = null;
      const clients = [];
      for (let s = 0; s < subscribers; s += 1) {
        const client = createClient({
          url: `${b.url.replace('http', 'ws')}/graphql`,
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${keys[s % keys.length]}` },
          retryAttempts: 0,
        });
        clients.push(client);
        const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
        client.subscribe<{ auditEvents: { subjectId: string } }>(
          {
            query: `subscription { auditEvents(filter: { action: "identity.created" }) { subjectId } }`,
          },
          {
            next: (result) => {
              const subject = result.data?.auditEvents.subjectId;
              if (subject === undefined) return;
              const times = arrived.get(subject) ?? [];
              times.push(performance.now());
              arrived.set(subject, times);
              notify?.();
            },
            error: (error) => console.error('subscription error', error),
            complete: () => {},
          },
        );
        await connected;
      }
      // The subscribe messages follow connection_ack: let the last ones reach the feed.
      await new Promise<void>((resolve) => setTimeout(resolve, 200 + subscribers));

      const roundTrip: number[] = [];
      const missesBefore = await cacheMisses();
      for (let i = 0; i < EVENTS; i += 1) {
        const id = `lat-${run}-${i}`;
        const sent = performance.now();
        const { createIdentity } = await graphql<{ createIdentity: { id: string } }>(
          `mutation { createIdentity(input: { name: "${id}", kind: USER }) { id } }`,
        );
        roundTrip.push(performance.now() - sent);
        // Arrivals are kept by subject: the event may arrive before the answer names it.
        while ((arrived.get(createIdentity.id)?.length ?? 0) < subscribers) {
          await new Promise<void>((resolve) => (notify = resolve));
        }
        for (const at of arrived.get(createIdentity.id) ?? []) delivery.push(at - sent);
        arrived.delete(createIdentity.id);
      }
      const statementsPerEvent = ((await cacheMisses()) - missesBefore) / EVENTS;
      await Promise.all(clients.map((client) => client.dispose()));
      const load = loadavg()
        .map((value) => value.toFixed(2))
        .join(' ');
      console.log(
        `\naudit event delivery across instances (A commits, B's ${subscribers} subscriber(s), ${mode} key${mode === 'shared' ? '' : 's'}), ${EVENTS} events, load average ${load}:`,
      );
      for (const [name, values] of [
        ['send mutation to A -> event on B', delivery],
        ['send mutation to A -> A answers', roundTrip],
      ] as const) {
        console.log(
          `  ${name.padEnd(36)} p50 ${percentile(values, 50).toFixed(1)} ms  p99 ${percentile(values, 99).toFixed(1)} ms  max ${Math.max(...values).toFixed(1)} ms`,
        );
      }
      console.log(`  authentication statements on B per event: ${statementsPerEvent.toFixed(2)}`);
    }
  }
} finally {
  for (const child of children) await stopKeyholderProcess(child);
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
}

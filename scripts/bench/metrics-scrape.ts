/**
 * What a Prometheus scrape of `/metrics` costs (issue 15, target < 5 ms), against a baseline in the
 * same run: a bare Node HTTP server exposing prom-client's default process metrics plus one request
 * histogram, the least any Node service exporting metrics serves. Both are warmed with the same
 * traffic first (so histograms have data), then scraped one at a time, sequentially, like a
 * scraper does. Keyholder is scraped on `METRICS_PORT` (no credential) and on its main port with
 * a `system:read` key (which also authenticates). Runs on PGlite unless DATABASE_URL is set.
 * Usage: npm run build && npm run bench:metrics   (SCRAPES=300 by default)
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { gql, median, startChild, stopChild } from './http-load.js';
import { percentile } from './percentile.js';

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const SCRAPES = Number(process.env.SCRAPES ?? 300);
const WARM_REQUESTS = 2000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The baseline: prom-client's default metrics and one labelled request histogram. */
async function startBaseline(): Promise<{ url: string; close: () => Promise<void> }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const seconds = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Requests.',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const server = createServer(async (req, res) => {
    const started = performance.now();
    if (req.url === '/metrics') {
      const body = await registry.metrics();
      res.setHeader('content-type', registry.contentType);
      res.end(body);
      return;
    }
    res.end('{}');
    seconds.observe({ route: '/graphql', status: '200' }, (performance.now() - started) / 1000);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Scrapes `url` SCRAPES times, one after another; the times in ms and the body's size. */
async function scrape(url: string, headers: Record<string, string> = {}) {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES + 20; i += 1) {
    const started = performance.now();
    const response = await fetch(url, { headers });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${body}`);
    if (i >= 20) ms.push(performance.now() - started);
    bytes = body.length;
  }
  ms.sort((a, b) => a - b);
  return { median: median(ms), p95: percentile(ms, 95), bytes };
}

const dataDir = await mkdtemp(join(tmpdir(), 'kh-bench-metrics-'));
const metricsPort = await freePort();
const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const keyholder = await startChild(
  main,
  {
    PORT: '0',
    METRICS_PORT: String(metricsPort),
    DATA_DIR: dataDir,
    BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    NODE_ENV: 'production',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  },
  /listening on (\S+\/graphql)/,
);
const baseline = await startBaseline();
try {
  const base = keyholder.url.replace(/\/graphql$/, '');
  for (let i = 0; i < WARM_REQUESTS; i += 1) {
    await gql(keyholder.url, ADMIN_KEY, '{ me { id } }');
    await fetch(`${baseline.url}/graphql`);
  }
  const results = [
    ['baseline: prom-client defaults + 1 histogram', await scrape(`${baseline.url}/metrics`)],
    ['Keyholder on METRICS_PORT', await scrape(`http://127.0.0.1:${metricsPort}/metrics`)],
    [
      'Keyholder on PORT with a system:read key',
      await scrape(`${base}/metrics`, { authorization: `Bearer ${ADMIN_KEY}` }),
    ],
  ] as const;
  console.log(
    `/metrics scrape, ${SCRAPES} sequential scrapes each, after ${WARM_REQUESTS} requests:`,
  );
  const [, baselineResult] = results[0];
  for (const [label, r] of results) {
    console.log(
      `  ${label.padEnd(46)} median ${r.median.toFixed(2)} ms  p95 ${r.p95.toFixed(2)} ms  ${String(r.bytes).padStart(6)} bytes  ${(r.median / baselineResult.median).toFixed(2)}× baseline`,
    );
  }
  console.log('  target: a scrape under 5 ms');
} finally {
  await baseline.close();
  await stopChild(keyholder.child);
  await rm(dataDir, { recursive: true, force: true });
}

/// <reference lib="dom" />
/**
 * The console in Debian's Chromium (playwright-core, no browser download), against a Keyholder
 * process on a throwaway database (PGlite in memory; PostgreSQL with DATABASE_URL):
 * - first paint: `first-contentful-paint` of /console (the sign-in page), cold (a new browser
 *   context, empty cache) and warm (reloaded), median of LOADS each;
 * - live feed: from sending a `grant` mutation to its event's row being in the open Live audit
 *   page's DOM (a MutationObserver's timestamp, on the same clock), p50/p95 over GRANTS;
 * - the size of dist/console, gzipped, with and without GraphiQL's chunks.
 * Usage: npm run build && node dist/scripts/bench/console.js
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Page } from 'playwright-core';
import { packageRoot } from '../../src/package-root.js';
import { startKeyholderProcess, stopKeyholderProcess } from './keyholder-process.js';
import { percentile } from './percentile.js';

const LOADS = Number(process.env.LOADS ?? 7);
const GRANTS = Number(process.env.GRANTS ?? 20);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';

async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as {
    data?: Record<string, { id?: string }>;
    errors?: unknown[];
  };
  if (body.errors?.length) throw new Error(JSON.stringify(body.errors));
  return body.data ?? {};
}

async function assetSizes(): Promise<{ all: number; withoutGraphiql: number }> {
  const directory = join(packageRoot(), 'dist', 'console');
  const files = [
    join(directory, 'index.html'),
    ...(await readdir(join(directory, 'assets'))).map((f) => join(directory, 'assets', f)),
  ];
  let all = 0;
  let index = 0;
  for (const file of files) {
    const size = gzipSync(await readFile(file), { level: 9 }).length;
    all += size;
    if (/[\\/](index\.html|index-[^/]+\.(js|css))$/.test(file)) index += size;
  }
  return { all, withoutGraphiql: index };
}

async function firstPaint(page: Page): Promise<number> {
  await page.getByLabel('API key').waitFor();
  await page.waitForFunction(
    () => performance.getEntriesByName('first-contentful-paint').length > 0,
  );
  return page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
  );
}

const median = (values: number[]) => percentile(values, 50);

const keyholder = await startKeyholderProcess(process.env.DATABASE_URL ?? '', ADMIN_KEY);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < LOADS; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${keyholder.url}/console`);
    cold.push(await firstPaint(page));
    await page.reload();
    warm.push(await firstPaint(page));
    await context.close();
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${keyholder.url}/console/audit?action=grant.created`);
  await page.getByLabel('API key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').getByText('Live').waitFor();
  const scope = `bench.console${Date.now()}:read`;
  await gql(keyholder.url, 'mutation($n: String!) { defineScope(input: { name: $n }) { name } }', {
    n: scope,
  });
  const latencies: number[] = [];
  for (let i = 0; i < GRANTS; i += 1) {
    const identity = (
      await gql(
        keyholder.url,
        'mutation($n: String!) { createIdentity(input: { name: $n, kind: SERVICE }) { id } }',
        { n: `bench-console-${i}-${Date.now()}` },
      )
    ).createIdentity as { id: string };
    const reason = `bench-${i}-${Date.now()}`;
    await page.evaluate((text) => {
      (window as unknown as { arrival: Promise<number> }).arrival = new Promise((resolve) => {
        const seen = () =>
          document.querySelector('ol[aria-label="Live audit events"]')?.textContent?.includes(text);
        const observer = new MutationObserver(() => {
          if (seen()) {
            observer.disconnect();
            resolve(performance.timeOrigin + performance.now());
          }
        });
        observer.observe(document.body, { childList: true, subtree: true, characterData: true });
      });
    }, reason);
    const sent = performance.timeOrigin + performance.now();
    await gql(keyholder.url, 'mutation($input: GrantInput!) { grant(input: $input) { id } }', {
      input: { identityId: identity.id, scope, reason },
    });
    const arrived = await page.evaluate(
      () => (window as unknown as { arrival: Promise<number> }).arrival,
    );
    latencies.push(arrived - sent);
  }
  await context.close();

  const sizes = await assetSizes();
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  console.log(
    `first-contentful-paint of /console over ${LOADS} loads: cold median ${ms(median(cold))} (${cold.map((n) => n.toFixed(0)).join(', ')}), warm median ${ms(median(warm))}`,
  );
  console.log(
    `grant via API -> row in the open Live audit page over ${GRANTS}: p50 ${ms(percentile(latencies, 50))}, p95 ${ms(percentile(latencies, 95))}, max ${ms(Math.max(...latencies))}`,
  );
  console.log(
    `dist/console gzipped (level 9): ${(sizes.all / 1024).toFixed(1)} kB in all, ${(sizes.withoutGraphiql / 1024).toFixed(1)} kB without GraphiQL's lazy chunks`,
  );
} finally {
  await browser.close();
  await stopKeyholderProcess(keyholder);
}

/**
 * What one access log line costs the server process: written synchronously (Keyholder's
 * `createLogger`, one `write` per line) against pino's buffered destination (`sync: false`, lines
 * gathered up to 8 KB, flushed every 100 ms), in a child process whose stdout is a pipe read by
 * this one, as a log collector reads a container's. Each line is written in its own macrotask, as
 * requests arrive; `none` runs the same loop with the logger silent (the baseline). Variants
 * alternate `ROUNDS` times; reported: the child's CPU (user + system) per line, medians, what a
 * line adds over the baseline, and the load average.
 *
 * Usage: npm run build && npm run bench:log-lines   (`ROUNDS`, default 7; `LINES`, 20,000)
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createLogger } from '../../src/telemetry/logger.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const LINES = Number(process.env.LINES ?? 20_000);
const VARIANTS = ['none', 'synchronous', 'buffered'] as const;
type Variant = (typeof VARIANTS)[number];

/** The child: writes `LINES` access lines, then reports its CPU per line on the IPC channel. */
async function writeLines(variant: Variant): Promise<void> {
  const destination =
    variant === 'buffered'
      ? pino.destination({ dest: 1, sync: false, minLength: 8192 })
      : undefined;
  if (destination !== undefined) setInterval(() => destination.flush(), 100).unref();
  const logger = createLogger({
    ...(variant === 'none' ? { level: 'silent' as const } : {}),
    ...(destination === undefined ? {} : { destination }),
  });
  const before = process.cpuUsage();
  for (let line = 0; line < LINES; line += 1) {
    logger.info(
      {
        requestId: `7d0c4c1e-${line}`,
        method: 'POST',
        route: '/graphql',
        status: 200,
        durationMs: 3.18,
      },
      'request',
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(before);
  destination?.flushSync();
  process.send?.({ microsPerLine: (used.user + used.system) / LINES });
}

async function measure(variant: Variant): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), ['--child', variant], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.resume(); // read and discarded, as a collector would ship it
  return new Promise((resolve, reject) => {
    child.once('message', (message) =>
      resolve((message as { microsPerLine: number }).microsPerLine),
    );
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`The ${variant} child exited with ${code}.`));
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  await writeLines(process.argv[childAt + 1] as Variant);
} else {
  const loadBefore = load();
  const results: Record<Variant, number[]> = { none: [], synchronous: [], buffered: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const variant of VARIANTS) results[variant].push(await measure(variant));
  }
  console.log(`log lines: ${ROUNDS} rounds x ${LINES} lines, CPU of the writing process`);
  console.log(`  load average before: ${loadBefore}, after: ${load()}`);
  for (const variant of VARIANTS) {
    const runs = results[variant].map((value) => value.toFixed(1)).join(', ');
    console.log(
      `  ${variant.padEnd(12)} median ${median(results[variant]).toFixed(1)} µs per line (${runs})`,
    );
  }
  const added = (variant: Variant) => median(results[variant]) - median(results.none);
  console.log(
    `  a line adds: synchronous ${added('synchronous').toFixed(1)} µs, buffered ${added('buffered').toFixed(1)} µs`,
  );
}

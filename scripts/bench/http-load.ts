/**
 * What the HTTP benchmarks share: child servers, a GraphQL client, and load runs that report the
 * CPU each request cost (see scripts/bench/README.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export const ROUNDS = Number(process.env.ROUNDS ?? 3);
export const SECONDS = Number(process.env.SECONDS ?? 8);
export const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
// Extra node flags for the servers (not the load generator), e.g. `--cpu-prof` to profile them.
const SERVER_NODE_ARGS = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
// biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are read by shape in the benchmarks
type Any = any;

export async function startChild(
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let listening = false;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      // Once listening, its log (an access line per request) is read and dropped, not kept.
      if (listening) return;
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        listening = true;
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${output}`)));
  });
  return { child, url };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function gql(
  url: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, Any>; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data as Record<string, Any>;
}

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`; 0 if gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ ticks
  } catch {
    return 0;
  }
}

/**
 * One load run, with the requests served and the CPU they cost: the server's own process and the
 * PostgreSQL backends connected to the benchmark's database (summed over `pids()`, read before
 * and after), in µs per request.
 */
export async function load(
  target: { url: string; key: string | null; pid: number },
  body: string,
  backends: () => Promise<number[]>,
) {
  const pgBefore = await backends();
  const pgCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const serverBefore = cpuSeconds(target.pid);
  const dbBefore = pgCpu(pgBefore);
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: {
      'content-type': 'application/json',
      ...(target.key ? { authorization: `Bearer ${target.key}` } : {}),
    },
    body,
  });
  const requests = Math.max(1, result.requests.total);
  // Backends that were there before (pool connections are long-lived) plus any opened since.
  const pgAfter = [...new Set([...pgBefore, ...(await backends())])];
  const dbAfter = pgCpu(pgAfter);
  return {
    rps: result.requests.average,
    errors: result.errors + result.timeouts + result.non2xx,
    serverUs: (1e6 * (cpuSeconds(target.pid) - serverBefore)) / requests,
    databaseUs: (1e6 * (dbAfter - dbBefore)) / requests,
  };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

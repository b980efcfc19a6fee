/**
 * What the HTTP benchmarks share: child servers, a GraphQL client, and load runs that report the
 * CPU each request cost (see scripts/bench/README.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { measureCpu } from './proc-cpu.js';

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
  nodeArgs: readonly string[] = SERVER_NODE_ARGS,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeArgs, script], {
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

/** What a load run measured; the CPU is per request, in µs. */
export interface LoadResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** The server's own process. */
  readonly serverUs: number;
  /** The PostgreSQL backends connected to the benchmark's database. */
  readonly databaseUs: number;
  /** Statements the server sent per request (its `/metrics`), or `null` when it has none. */
  readonly statements: number | null;
}

/**
 * One load run, with the requests served and what they cost (`measureCpu`): the server's own
 * process and the PostgreSQL backends `backends()` lists, and, when `target.statements` reads a
 * server's statement counter, the statements it sent.
 */
export async function load(
  target: {
    url: string;
    key: string | null;
    pid: number;
    statements?: (() => Promise<number>) | undefined;
  },
  body: string,
  backends: () => Promise<number[]>,
): Promise<LoadResult> {
  const statementsBefore = await target.statements?.();
  const spent = await measureCpu(target.pid, backends, () =>
    autocannon({
      url: target.url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: SECONDS,
      headers: {
        'content-type': 'application/json',
        ...(target.key ? { authorization: `Bearer ${target.key}` } : {}),
      },
      body,
    }),
  );
  const statementsAfter = await target.statements?.();
  const result = spent.result;
  // No request finished in the run (each takes longer than it): no per-request figure (NaN).
  const requests = result.requests.total === 0 ? Number.NaN : result.requests.total;
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    serverUs: (1e6 * spent.serverSeconds) / requests,
    databaseUs: (1e6 * spent.databaseSeconds) / requests,
    statements:
      statementsBefore === undefined || statementsAfter === undefined
        ? null
        : (statementsAfter - statementsBefore) / requests,
  };
}

/**
 * Reads `keyholder_database_statements_total` from a Keyholder's `/metrics` (`graphqlUrl` is its
 * `/graphql`; `key` must hold `system:read`). The scrape itself sends no statement.
 */
export async function statementsSent(graphqlUrl: string, key: string): Promise<number> {
  const response = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'), {
    headers: { authorization: `Bearer ${key}` },
  });
  const text = await response.text();
  const match = /^keyholder_database_statements_total (\d+)/m.exec(text);
  if (match === null) throw new Error(`No statement counter at /metrics (${response.status}).`);
  return Number(match[1]);
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

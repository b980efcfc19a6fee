import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A service of the example running as a child process. */
export interface SpawnedService {
  readonly child: ChildProcess;
  /** Its GraphQL endpoint, as it printed it (`… listening on http://host:port/graphql`). */
  readonly url: string;
  /** SIGTERM, SIGKILL after 5 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `node <script>` with `env` added to this process's environment and resolves once it
 * prints `listening on <url>/graphql`; rejects, with what it printed, if it exits before.
 * Its output is passed on to this process's, each line prefixed with `[name]`.
 */
export async function spawnService(
  name: string,
  script: string,
  env: Record<string, string>,
): Promise<SpawnedService> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `[${name}] ${line}\n`)
      .join('');
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(prefix(chunk));
      output += chunk.toString();
      const match = /listening on (\S+\/graphql)/.exec(output);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${code ?? signal}) before listening: ${output}`)),
    );
  });
  let stopped: Promise<void> | undefined;
  return {
    child,
    url,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}

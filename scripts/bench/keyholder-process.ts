import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { BENCH_AUDIT_ENV } from './bench-audit-keys.js';

/** A Keyholder started from `dist/src/main.js` as a child process. */
export interface KeyholderProcess {
  readonly child: ChildProcess;
  /** `http://host:port`, without `/graphql`. */
  readonly url: string;
}

/**
 * Starts Keyholder on `databaseUrl` (or, when it is `null`, on PGlite in `env.DATA_DIR`) with
 * `NODE_ENV=production`, port 0 and `BOOTSTRAP_ADMIN_KEY` set to `adminKey`, `env` added; resolves
 * once it prints that it is listening (after its migrations). `main`: another build's
 * `src/main.js`, to compare builds in one run (this build's by default).
 */
export async function startKeyholderProcess(
  databaseUrl: string | null,
  adminKey: string,
  env: Record<string, string> = {},
  main = fileURLToPath(new URL('../../src/main.js', import.meta.url)),
): Promise<KeyholderProcess> {
  const { DATABASE_URL: _inherited, ...inherited } = process.env;
  const child = spawn(process.execPath, [main], {
    env: {
      ...inherited,
      PORT: '0',
      ...(databaseUrl === null ? {} : { DATABASE_URL: databaseUrl }),
      BOOTSTRAP_ADMIN_KEY: adminKey,
      NODE_ENV: 'production',
      ...BENCH_AUDIT_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let listening = false;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      // Once listening, its log (an access line per request) is read and dropped, not kept.
      if (listening) return;
      output += chunk.toString();
      const match = /listening on (\S+)\/graphql/.exec(output);
      if (match) {
        listening = true;
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`Keyholder exited with ${code}: ${output}`)));
  });
  return { child, url };
}

/** Stops a Keyholder process with SIGTERM (SIGKILL after 5 s) and waits for it to exit. */
export async function stopKeyholderProcess(keyholder: KeyholderProcess): Promise<void> {
  const { child } = keyholder;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

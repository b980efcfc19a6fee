import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../fixtures/built.js';
import { createScratchDataDir, type ScratchDataDir } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { ADMIN_KEY, TEST_AUDIT_KEYS } from '../fixtures/test-server.js';

const MAIN = join(import.meta.dirname, '../../dist/src/main.js');

/** A Keyholder process on its own embedded database, its stdout kept as text. */
interface LoggingProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
}

const started: { child: ChildProcess; dataDir: ScratchDataDir }[] = [];

/** A process starts, migrates and bootstraps its database: allow for a loaded machine. */
const STARTS = 60_000;

async function startLogging(env: Record<string, string>): Promise<LoggingProcess> {
  ensureBuilt(['dist/src/main.js']);
  // A copy of an initialised cluster: no initdb in the child.
  const dataDir = await createScratchDataDir();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      DATA_DIR: dataDir.path,
      BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      AUDIT_HMAC_KEY: TEST_AUDIT_KEYS.hmacKey,
      AUDIT_SIGNING_KEY: TEST_AUDIT_KEYS.signingKey,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push({ child, dataDir });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const listening = await expectEventually(
    async () => /listening on (\S+)\/graphql/.exec(stdout),
    (match) => match !== null || child.exitCode !== null,
    'Keyholder listening',
    60_000,
  );
  if (listening === null) throw new Error(`Keyholder did not start: ${stdout}`);
  return { child, url: listening[1] as string, stdout: () => stdout };
}

async function request(url: string, requestId: string): Promise<void> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${ADMIN_KEY}`,
      'x-request-id': requestId,
    },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  expect(response.status).toBe(200);
}

/** The request ids of the access lines written so far. */
function loggedRequests(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; requestId?: string })
    .filter((line) => line.msg === 'request')
    .map((line) => line.requestId as string);
}

afterEach(async () => {
  for (const { child, dataDir } of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await dataDir.remove();
  }
});

describe('LOG_BUFFER_MS (the embedded database; writing log lines does not touch it)', () => {
  it(
    'should write buffered access lines within the window, without a stop',
    async () => {
      const keyholder = await startLogging({ LOG_BUFFER_MS: '50' });
      await request(keyholder.url, 'buffered-1');

      await expectEventually(
        async () => loggedRequests(keyholder.stdout()),
        (ids) => ids.includes('buffered-1'),
        'the buffered access line',
      );
    },
    STARTS,
  );

  it(
    'should write every buffered line before the process stops on SIGTERM',
    async () => {
      // The longest window: lines made just before the stop are still in the buffer then.
      const keyholder = await startLogging({ LOG_BUFFER_MS: '1000' });
      const ids = Array.from({ length: 20 }, (_, i) => `before-stop-${i}`);
      for (const id of ids) await request(keyholder.url, id);

      keyholder.child.kill('SIGTERM');
      const [code] = await once(keyholder.child, 'exit');

      expect(code).toBe(0);
      expect(loggedRequests(keyholder.stdout())).toEqual(expect.arrayContaining(ids));
    },
    STARTS,
  );

  it('should refuse a window outside 0 to 1000 at start, naming the setting', async () => {
    ensureBuilt(['dist/src/main.js']);
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, LOG_BUFFER_MS: '5000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');

    expect(code).toBe(2);
    expect(stderr).toContain('LOG_BUFFER_MS must be a whole number from 0 to 1000; got "5000".');
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root.js';
import { ensureBuilt } from '../fixtures/built.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { createIdentity, defineScope, grant } from '../fixtures/seed.js';
import { startTestServer, TEST_AUDIT_KEYS, type TestServer } from '../fixtures/test-server.js';

const cli = join(packageRoot(), 'dist/src/cli.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built binary as the admin of `server`, with `env` added. */
function keyholder(
  server: TestServer,
  home: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        cwd: home,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          XDG_CONFIG_HOME: join(home, 'config'),
          KEYHOLDER_URL: server.url,
          KEYHOLDER_TOKEN: server.adminKey,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function parsed<T>(run: Run): T {
  expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

beforeAll(() => ensureBuilt(['dist/src/cli.js']), 120_000);

describe.each(engines())('keyholder audit verify and export on %s', (engine) => {
  let server: TestServer;
  let home: string;
  let sink: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'kh-audit-cli-'));
    sink = join(home, 'checkpoints');
    server = await startTestServer(engine, {
      audit: { checkpointEvents: 3, checkpointSeconds: 3600, checkpointDir: sink },
    });
    const scope = await defineScope(server);
    const someone = await createIdentity(server);
    await grant(server, someone.id, { scope });
    await createIdentity(server);
    await expectEventually(
      async () => {
        const [row] = await server.database.query<{ n: number }>(
          'select count(*)::int as n from audit_checkpoints',
        );
        return row?.n ?? 0;
      },
      (n) => n > 0,
      'a signed checkpoint',
    );
  });

  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('should verify the chain against the checkpoint files, checked with the published keys', async () => {
    const verified = parsed<{ ok: boolean; problem: string | null }>(
      await keyholder(server, home, ['audit', 'verify', '--checkpoints', sink, '--json']),
    );

    expect(verified).toMatchObject({ ok: true, problem: null });
  });

  it('should run a full verification to its end', async () => {
    const verified = parsed<{ ok: boolean; mode: string; checked: number }>(
      await keyholder(server, home, ['audit', 'verify', '--full', '--json']),
    );

    expect(verified).toMatchObject({ ok: true, mode: 'FULL' });
    expect(verified.checked).toBeGreaterThan(5);
  });

  it('should export JSON Lines that verify offline, seals included with the sealing key', async () => {
    const file = join(home, 'export.jsonl');
    const exported = await keyholder(server, home, ['audit', 'export', '--out', file]);
    expect(exported.code, exported.stderr).toBe(0);

    const withoutKey = parsed<{ ok: boolean; sealsChecked: boolean; checkpoints: number }>(
      await keyholder(server, home, ['audit', 'verify', '--file', file, '--json'], {
        KEYHOLDER_URL: 'http://127.0.0.1:9',
      }),
    );
    const withKey = parsed<{ ok: boolean; sealsChecked: boolean }>(
      await keyholder(server, home, ['audit', 'verify', '--file', file, '--json'], {
        AUDIT_HMAC_KEY: TEST_AUDIT_KEYS.hmacKey,
      }),
    );

    expect(withoutKey).toMatchObject({ ok: true, sealsChecked: false });
    expect(withoutKey.checkpoints).toBeGreaterThan(0);
    expect(withKey).toMatchObject({ ok: true, sealsChecked: true });
  });

  it('should exit 1 for an export edited after it was written', async () => {
    const file = join(home, 'export.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    const edited = lines.map((line) =>
      line.includes('"grant.created"')
        ? line.replace('Integration test.', 'Nothing to see.')
        : line,
    );
    const tampered = join(home, 'tampered.jsonl');
    await writeFile(tampered, edited.join('\n'));

    const run = await keyholder(server, home, ['audit', 'verify', '--file', tampered]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match its hash/);
  });

  it('should refuse a checkpoint file that the published keys did not sign', async () => {
    const forgedDir = join(home, 'forged');
    const { mkdir, readdir } = await import('node:fs/promises');
    await mkdir(forgedDir, { recursive: true });
    const [name] = (await readdir(sink)).sort();
    const file = JSON.parse(await readFile(join(sink, name as string), 'utf8')) as {
      payload: string;
    };
    await writeFile(
      join(forgedDir, name as string),
      JSON.stringify({ ...file, payload: file.payload.replace(/"seq":\d+/, '"seq":1') }),
    );

    const run = await keyholder(server, home, ['audit', 'verify', '--checkpoints', forgedDir]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not signed by a key of the audit key set/);
  });
});

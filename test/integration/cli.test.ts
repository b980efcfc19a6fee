import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root.js';
import { ensureBuilt } from '../fixtures/built.js';
import {
  createScratchDatabase,
  createScratchDataDir,
  engines,
  type ScratchDatabase,
  type ScratchDataDir,
} from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const cli = join(packageRoot(), 'dist/src/cli.js');

/** What one run of the built binary did. */
interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The real binary, run asynchronously (the server answering it lives in this process), in a home
 * of its own: `XDG_CONFIG_HOME` a scratch folder, no KEYHOLDER_* unless `env` gives them.
 */
function keyholderIn(home: string) {
  return (args: readonly string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, ...args],
        {
          cwd: home,
          timeout: 20_000,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: home,
            XDG_CONFIG_HOME: join(home, 'config'),
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

/** `--json` output, parsed; fails the spec with stderr when the run did not exit 0. */
function parsed<T>(run: Run): T {
  expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

beforeAll(() => ensureBuilt(['dist/src/cli.js']), 120_000);

describe('the keyholder CLI, whatever the server', () => {
  let home: string;
  let keyholder: ReturnType<typeof keyholderIn>;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'kh-cli-offline-'));
    keyholder = keyholderIn(home);
  });

  afterAll(() => rm(home, { recursive: true, force: true }));

  it('should exit 2 with what was wrong on usage errors, and never print a stack', async () => {
    for (const args of [
      ['grant', 'only-one-argument'],
      ['identity', 'create', 'x', '--kind', 'ROBOT'],
      ['identity', 'ls', '--first', 'many'],
      ['no-such-command'],
      ['identity'],
      ['--context', 'nowhere', 'whoami'],
    ]) {
      const run = await keyholder(args);

      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(run.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect((await keyholder(['identity', 'create', 'x', '--kind', 'ROBOT'])).stderr).toBe(
      'keyholder: --kind must be one of USER, SERVICE, AGENT, not "ROBOT".\n',
    );
  });

  it('should print --help for every command, and keep lint as it was', async () => {
    for (const args of [
      ['--help'],
      ['audit', 'tail', '--help'],
      ['check', '--help'],
      ['login', '--help'],
    ]) {
      const run = await keyholder(args);

      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).toMatch(/^Usage: keyholder/);
    }
    expect((await keyholder(['check', '--help'])).stdout).toContain('--explain');
    const lint = await keyholder(['lint', '--help']);
    expect(lint.stdout).toMatch(/^Usage: keyholder lint \[options\]/);
  });
});

describe.each(engines())('the keyholder CLI on %s', (engine) => {
  let server: TestServer;
  let home: string;
  let keyholder: ReturnType<typeof keyholderIn>;

  beforeAll(async () => {
    server = await startTestServer(engine);
    home = await mkdtemp(join(tmpdir(), 'kh-cli-'));
    keyholder = keyholderIn(home);
    const login = await keyholder(['login', '--url', server.url, '--token', server.adminKey]);
    expect(login.code, login.stderr).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('should store the logged-in context readable by its owner only, under XDG_CONFIG_HOME', async () => {
    const file = join(home, 'config/keyholder/config.json');

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'config/keyholder'))).mode & 0o777).toBe(0o700);
    const me = parsed<{ id: string; name: string }>(await keyholder(['whoami', '--json']));
    expect(me).toMatchObject({ id: server.adminId, name: 'bootstrap-admin' });
    expect((await keyholder(['whoami'])).stdout).toContain(
      `name:    bootstrap-admin\nkind:    USER\nstatus:  ACTIVE\nurl:     ${server.url}\ncontext: default\n`,
    );
    const contexts = parsed<{ name: string; current: boolean; token: string }[]>(
      await keyholder(['context', 'ls', '--json']),
    );
    expect(contexts).toEqual([
      {
        name: 'default',
        current: true,
        url: server.url,
        token: `${server.adminKey.slice(0, 11)}…`,
      },
    ]);
  });

  it('should take the URL and key from KEYHOLDER_URL and KEYHOLDER_TOKEN without a context', async () => {
    const bare = keyholderIn(await mkdtemp(join(tmpdir(), 'kh-cli-env-')));

    const run = await bare(['whoami', '--json'], {
      KEYHOLDER_URL: server.url,
      KEYHOLDER_TOKEN: server.adminKey,
    });

    expect(parsed<{ id: string }>(run).id).toBe(server.adminId);
    const none = await bare(['whoami']);
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(
      'keyholder: Not logged in: run "keyholder login --token <api key>", or set KEYHOLDER_TOKEN. (UNAUTHENTICATED)\n',
    );
  });

  it('should create identities and list them, as a table and as JSON', async () => {
    const created = parsed<{ id: string; kind: string }>(
      await keyholder(['identity', 'create', 'cli-robot', '--kind', 'service', '--json']),
    );

    expect(created.kind).toBe('SERVICE');
    const page = parsed<{ nodes: { id: string; name: string }[] }>(
      await keyholder(['identity', 'ls', '--name', 'cli-robot', '--json']),
    );
    expect(page.nodes).toEqual([expect.objectContaining({ id: created.id, name: 'cli-robot' })]);
    const table = await keyholder(['identity', 'ls', '--kind', 'SERVICE']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +KIND +NAME +STATUS/);
    expect(table.stdout).toContain(`${created.id}  SERVICE  cli-robot`);
  });

  it('should take a newcomer from login to a revoked grant denied in at most 10 commands', async () => {
    const newcomer = keyholderIn(await mkdtemp(join(tmpdir(), 'kh-cli-newcomer-')));
    const commands: string[][] = [];
    const run = async (...args: string[]) => {
      commands.push(args);
      const result = await newcomer(args);
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
      return result;
    };

    await run('login', '--url', server.url, '--token', server.adminKey);
    await run('scope', 'define', 'invoices:read', '--description', 'Read invoices');
    const alice = JSON.parse((await run('identity', 'create', 'alice', '--json')).stdout).id;
    const grant = JSON.parse(
      (await run('grant', alice, 'invoices:read', '--reason', 'FIN-1: month end', '--json')).stdout,
    ).id;
    const allowed = await run('check', alice, 'invoices:read', '--explain');
    await run('revoke', grant, '--reason', 'FIN-1 done');
    const denied = await run('check', alice, 'invoices:read', '--explain');

    expect(commands.length).toBeLessThanOrEqual(10);
    expect(allowed.stdout).toMatch(/^allowed\nreason: +Allowed by grant /);
    expect(allowed.stdout).toContain(`grant:      ${grant}\npath:       directly`);
    expect(denied.stdout).toMatch(/^denied\nreason: +Identity "alice" holds no active grant/);
  });

  it('should create a key that authenticates, and exit 3 with FORBIDDEN when it lacks the scope', async () => {
    const bob = parsed<{ id: string }>(
      await keyholder(['identity', 'create', 'cli-bob', '--json']),
    );
    const key = parsed<{ secret: string; apiKey: { id: string; active: boolean } }>(
      await keyholder(['key', 'create', bob.id, '--name', 'laptop', '--json']),
    );
    const asBob = { KEYHOLDER_URL: server.url, KEYHOLDER_TOKEN: key.secret };

    expect(key.apiKey.active).toBe(true);
    expect(parsed<{ id: string }>(await keyholder(['whoami', '--json'], asBob)).id).toBe(bob.id);
    const forbidden = await keyholder(['identity', 'ls'], asBob);
    expect(forbidden.code).toBe(3);
    expect(forbidden.stdout).toBe('');
    expect(forbidden.stderr).toMatch(/^keyholder: .*identities:read.* \(FORBIDDEN\)\n$/);

    expect((await keyholder(['key', 'revoke', key.apiKey.id])).code).toBe(0);
    const refused = await keyholder(['whoami'], asBob);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/\(UNAUTHENTICATED\)\n$/);
  });

  it('should create a scoped, DPoP-bound key and prove possession with its key file', async () => {
    const carol = parsed<{ id: string }>(
      await keyholder(['identity', 'create', 'cli-dpop-dana', '--json']),
    );
    const keyFile = join(home, 'dana.jwk');
    const made = parsed<{ jkt: string }>(
      await keyholder(['dpop-key', 'create', keyFile, '--json']),
    );
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = parsed<{
      secret: string;
      apiKey: { jkt: string; scopes: { scope: string; resource: string | null }[] };
    }>(
      await keyholder([
        'key',
        'create',
        carol.id,
        '--name',
        'bound',
        '--scope',
        'identities:read',
        '--scope',
        'grants:read=team-*',
        '--dpop-key',
        keyFile,
        '--json',
      ]),
    );
    expect(key.apiKey.jkt).toBe(made.jkt);
    expect(key.apiKey.scopes).toEqual([
      { scope: 'identities:read', resource: null },
      { scope: 'grants:read', resource: 'team-*' },
    ]);
    const asCarol = { KEYHOLDER_URL: server.url, KEYHOLDER_TOKEN: key.secret };

    const proven = await keyholder(['whoami', '--json'], {
      ...asCarol,
      KEYHOLDER_DPOP_KEY: keyFile,
    });
    expect(parsed<{ id: string }>(proven).id).toBe(carol.id);
    const stolen = await keyholder(['whoami'], asCarol);
    expect(stolen.code).toBe(3);
    expect(stolen.stderr).toMatch(/bound to a DPoP key.*\(UNAUTHENTICATED\)\n$/);
  });

  it('should grant, explain, list holders and revoke, and find both in the audit log', async () => {
    parsed(await keyholder(['scope', 'define', 'reports:read', '--json']));
    const carol = parsed<{ id: string }>(
      await keyholder(['identity', 'create', 'cli-carol', '--json']),
    );
    const grant = parsed<{ id: string; resource: string; active: boolean }>(
      await keyholder([
        'grant',
        carol.id,
        'reports:read',
        '--resource',
        'eu-*',
        '--reason',
        'REP-7',
        '--ttl',
        '3600',
        '--json',
      ]),
    );
    expect(grant).toMatchObject({ resource: 'eu-*', active: true });

    const decision = parsed<{
      allowed: boolean;
      grant: { id: string };
      path: { groups: string[] };
    }>(
      await keyholder([
        'check',
        carol.id,
        'reports:read',
        '--resource',
        'eu-1',
        '--explain',
        '--json',
      ]),
    );
    expect(decision).toMatchObject({
      allowed: true,
      grant: { id: grant.id },
      path: { groups: [] },
    });
    const holders = parsed<{ nodes: { identityId: string }[] }>(
      await keyholder(['who-can', 'reports:read', '--resource', 'eu-1', '--json']),
    );
    expect(holders.nodes.map((h) => h.identityId)).toContain(carol.id);
    const effective = parsed<{ scope: string; resource: string }[]>(
      await keyholder(['effective', carol.id, '--json']),
    );
    expect(effective).toEqual([
      expect.objectContaining({ scope: 'reports:read', resource: 'eu-*' }),
    ]);

    expect((await keyholder(['revoke', grant.id, '--reason', 'REP-7 closed'])).code).toBe(0);
    const after = parsed<{ allowed: boolean }>(
      await keyholder(['check', carol.id, 'reports:read', '--resource', 'eu-1', '--json']),
    );
    expect(after.allowed).toBe(false);

    const events = parsed<{ nodes: { action: string; subjectId: string }[] }>(
      await keyholder(['audit', 'search', '--subject', grant.id, '--json']),
    );
    expect(events.nodes.map((e) => e.action)).toEqual(['grant.revoked', 'grant.created']);
    const verified = parsed<{ ok: boolean }>(await keyholder(['audit', 'verify', '--json']));
    expect(verified.ok).toBe(true);
  });

  /** A new identity of `kind` with a key, and the environment that runs the CLI as it. */
  async function identityWithKey(name: string, kind = 'USER') {
    const identity = parsed<{ id: string }>(
      await keyholder(['identity', 'create', name, '--kind', kind, '--json']),
    );
    const { secret, apiKey } = parsed<{ secret: string; apiKey: { id: string } }>(
      await keyholder(['key', 'create', identity.id, '--name', `${name}-key`, '--json']),
    );
    return {
      id: identity.id,
      keyId: apiKey.id,
      env: { KEYHOLDER_URL: server.url, KEYHOLDER_TOKEN: secret },
    };
  }

  it('should show, disable and re-enable an identity, whose key stops working when disabled', async () => {
    const eve = await identityWithKey('cli-eve');

    const shown = parsed<{ name: string; status: string; apiKeys: { id: string }[] }>(
      await keyholder(['identity', 'show', eve.id, '--json']),
    );
    expect(shown).toMatchObject({
      name: 'cli-eve',
      status: 'ACTIVE',
      apiKeys: [{ id: eve.keyId }],
    });
    expect(
      parsed<{ status: string }>(await keyholder(['identity', 'disable', eve.id, '--json'])),
    ).toMatchObject({ status: 'DISABLED' });
    expect((await keyholder(['whoami'], eve.env)).code).toBe(3);

    const enabled = await keyholder(['identity', 'enable', eve.id, '--reason', 'back from leave']);
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain(`${eve.id}  USER  cli-eve  ACTIVE`);
    const missing = await keyholder(['identity', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
  });

  it('should ask for access, and let another identity approve or deny the request', async () => {
    parsed(await keyholder(['scope', 'define', 'deploys:execute', '--json']));
    const frank = await identityWithKey('cli-frank');

    const asked = parsed<{ id: string; status: string }>(
      await keyholder(
        ['request', 'create', 'deploys:execute', '--ttl', '600', '--reason', 'INC-9', '--json'],
        frank.env,
      ),
    );
    expect(asked.status).toBe('PENDING');
    expect((await keyholder(['request', 'approve', asked.id], frank.env)).code).toBe(3);
    const awaiting = parsed<{ id: string }[]>(
      await keyholder(['request', 'ls', '--awaiting', '--json']),
    );
    expect(awaiting.map((r) => r.id)).toContain(asked.id);
    const approved = parsed<{ status: string; grant: { id: string } }>(
      await keyholder(['request', 'approve', asked.id, '--reason', 'on call', '--json']),
    );
    expect(approved.status).toBe('APPROVED');
    const mine = parsed<{ scope: string }[]>(await keyholder(['effective', '--json'], frank.env));
    expect(mine.map((p) => p.scope)).toEqual(['deploys:execute']);

    const again = parsed<{ id: string }>(
      await keyholder(
        ['request', 'create', 'deploys:execute', '--ttl', '60', '--reason', 'INC-10', '--json'],
        frank.env,
      ),
    );
    expect((await keyholder(['request', 'deny', again.id, '--reason', 'not needed'])).code).toBe(0);
    const history = parsed<{ id: string; status: string }[]>(
      await keyholder(['request', 'ls', '--json'], frank.env),
    );
    expect(Object.fromEntries(history.map((r) => [r.id, r.status]))).toEqual({
      [asked.id]: 'APPROVED',
      [again.id]: 'DENIED',
    });
  });

  it("should change a scope's policy and review its grants, revoking what is not kept", async () => {
    parsed(await keyholder(['scope', 'define', 'ledgers:write', '--json']));
    const policy = parsed<{ maxTtlSeconds: number; sensitive: boolean }>(
      await keyholder([
        'scope',
        'policy',
        'ledgers:write',
        '--max-ttl',
        '3600',
        '--sensitive',
        '--json',
      ]),
    );
    expect(policy).toMatchObject({ maxTtlSeconds: 3600, sensitive: true });
    const gina = parsed<{ id: string }>(
      await keyholder(['identity', 'create', 'cli-gina', '--json']),
    );
    const tooLong = await keyholder(['grant', gina.id, 'ledgers:write', '--reason', 'x']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/\(BAD_USER_INPUT\)\n$/);
    const grant = parsed<{ id: string }>(
      await keyholder([
        'grant',
        gina.id,
        'ledgers:write',
        '--ttl',
        '600',
        '--reason',
        'LED-1',
        '--json',
      ]),
    );

    const review = parsed<{ id: string; counts: { total: number } }>(
      await keyholder([
        'review',
        'start',
        'Ledger writers',
        '--identity',
        gina.id,
        '--due-in',
        '3600',
        '--json',
      ]),
    );
    expect(review.counts.total).toBe(1);
    const items = parsed<{ items: { nodes: { id: string; grant: { id: string } }[] } }>(
      await keyholder(['review', 'show', review.id, '--pending', '--json']),
    ).items.nodes;
    expect(items.map((i) => i.grant.id)).toEqual([grant.id]);
    const decided = await keyholder([
      'review',
      'decide',
      items[0]?.id ?? '',
      'revoke',
      '--note',
      'left',
    ]);
    expect(decided.stdout).toContain('REVOKED');
    expect(
      parsed<{ allowed: boolean }>(await keyholder(['check', gina.id, 'ledgers:write', '--json'])),
    ).toMatchObject({ allowed: false });
  });

  it('should warn about a nested field the key may not read and print the rest', async () => {
    const auditor = await identityWithKey('cli-auditor', 'SERVICE');
    parsed(await keyholder(['grant', auditor.id, 'grants:read', '--reason', 'AUD-1', '--json']));

    const run = await keyholder(['who-can', 'grants:read', '--json'], auditor.env);

    expect(run.code, run.stderr).toBe(0);
    const holders = JSON.parse(run.stdout) as { nodes: { identityId: string; identity: null }[] };
    expect(holders.nodes.map((h) => h.identityId)).toContain(auditor.id);
    const others = holders.nodes.filter((h) => h.identityId !== auditor.id);
    expect(others.map((h) => h.identityId)).toContain(server.adminId);
    expect(others.every((h) => h.identity === null)).toBe(true);
    expect(run.stderr).toMatch(/^keyholder: warning: .*identities:read.* \(FORBIDDEN\)\n/);
  });

  it('should log in with the key on standard input, keeping it out of the command line', async () => {
    const other = await mkdtemp(join(tmpdir(), 'kh-cli-stdin-'));
    const login = await new Promise<Run>((resolve) => {
      const child = execFile(
        process.execPath,
        [cli, 'login', '--url', server.url, '--token-stdin', '--name', 'piped', '--json'],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: other,
            XDG_CONFIG_HOME: join(other, 'config'),
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      );
      child.stdin?.end(`${server.adminKey}\n`);
    });

    expect(parsed<{ context: string }>(login).context).toBe('piped');
    const wrong = await keyholder([
      'login',
      '--url',
      server.url,
      '--token',
      'kh_nope',
      '--name',
      'x',
    ]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/\(UNAUTHENTICATED\)\n$/);
  });

  it("should exit 1 with the server's message and code for a server error", async () => {
    const run = await keyholder([
      'revoke',
      '00000000-0000-4000-8000-000000000000',
      '--reason',
      'x',
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^keyholder: .+ \(NOT_FOUND\)\n$/);
  });

  it('should end audit tail --follow with exit 3 when its key loses audit:read', async () => {
    const watcher = await identityWithKey('cli-watcher', 'SERVICE');
    const grant = parsed<{ id: string }>(
      await keyholder(['grant', watcher.id, 'audit:read', '--reason', 'SOC-1', '--json']),
    );
    const tail = spawn(process.execPath, [cli, 'audit', 'tail', '-f', '-n', '1'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...watcher.env },
    });
    let out = '';
    let err = '';
    tail.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    tail.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    try {
      await expectEventually(
        async () => out,
        (text) => text !== '',
        'the latest event',
      );

      await keyholder(['revoke', grant.id, '--reason', 'SOC-1 over']);

      expect(await exited).toBe(3);
      expect(err).toMatch(/^keyholder: .*\(FORBIDDEN\)\n$/);
    } finally {
      tail.kill('SIGTERM');
    }
  });

  it('should print the latest audit events, then follow new ones live until stopped', async () => {
    let tail: ChildProcess | undefined;
    try {
      tail = spawn(
        process.execPath,
        [cli, 'audit', 'tail', '--follow', '-n', '1', '--json', '--action', 'identity.'],
        {
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: home,
            XDG_CONFIG_HOME: join(home, 'config'),
          },
        },
      );
      let out = '';
      tail.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await expectEventually(
        async () => out,
        (text) => text.includes('"action":"identity.created"'),
        'the latest identity event',
      );
      const before = out.split('\n').filter(Boolean).length;
      expect(before).toBe(1);

      const dave = parsed<{ id: string }>(
        await keyholder(['identity', 'create', 'cli-dave', '--json']),
      );

      await expectEventually(
        async () => out,
        (text) => text.includes(`"subjectId":"${dave.id}"`),
        'the live identity event',
      );
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      expect(lines.at(-1)).toMatchObject({ action: 'identity.created', subjectId: dave.id });
    } finally {
      tail?.kill('SIGTERM');
    }
    const exited = await new Promise<number | null>((resolve) => tail?.once('exit', resolve));
    expect(exited).toBe(0);
  });
});

describe.each(engines())('keyholder migrate and serve on %s', (engine) => {
  let scratch: ScratchDatabase | undefined;
  let dataDir: string;

  let scratchDir: ScratchDataDir | undefined;

  beforeAll(async () => {
    // PGlite: a copy of an initialised, empty cluster (initdb is most of a first start).
    scratchDir = engine === 'pglite' ? await createScratchDataDir() : undefined;
    dataDir = scratchDir?.path ?? (await mkdtemp(join(tmpdir(), 'kh-cli-data-')));
    if (engine === 'postgres') scratch = await createScratchDatabase();
  });

  afterAll(async () => {
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function serverEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dataDir,
      DATA_DIR: dataDir,
      ...(scratch === undefined ? {} : { DATABASE_URL: scratch.url }),
    };
  }

  it('should apply the migrations and exit, again and again', async () => {
    const migrate = () =>
      new Promise<Run>((resolve) => {
        execFile(
          process.execPath,
          [cli, 'migrate', '--json'],
          { env: serverEnv(), timeout: 60_000 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        );
      });

    expect(parsed<{ migrated: boolean; engine: string }>(await migrate())).toEqual({
      migrated: true,
      engine,
    });
    expect((await migrate()).code).toBe(0);
  }, 90_000);

  it('should serve as npm start does, answer the CLI, and stop on SIGTERM', async () => {
    const key = 'kh_cli_serve_spec_admin_key_0123456789abcdef';
    const child = spawn(process.execPath, [cli, 'serve'], {
      env: { ...serverEnv(), PORT: '0', BOOTSTRAP_ADMIN_KEY: key },
    });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const listening = await expectEventually(
        async () => /listening on (http:\/\/\S+)\/graphql/.exec(out)?.[1],
        (url) => url !== undefined,
        'keyholder serve listening',
        60_000,
      );

      const me = await keyholderIn(dataDir)(['whoami', '--json'], {
        KEYHOLDER_URL: listening ?? '',
        KEYHOLDER_TOKEN: key,
      });
      expect(parsed<{ name: string }>(me).name).toBe('bootstrap-admin');
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
  }, 90_000);
});

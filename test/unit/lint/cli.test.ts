import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES } from '../../../src/modules/scopes/builtin-scopes.js';

const root = join(import.meta.dirname, '../../..');
const cli = join(root, 'dist/src/cli.js');
const fixtures = 'test/fixtures/lint';

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => statSync(join(dir, file)).mtimeMs),
  );
}

/** Runs the built CLI from the repository root, as CI would. */
function keyholder(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  let built = 0;
  try {
    built = statSync(cli).mtimeMs;
  } catch {}
  if (built < newestSource(join(root, 'src'))) {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
      },
    );
  }
}, 120_000);

describe('keyholder lint', () => {
  it('should exit 0 on Keyholder’s own schema with its built-in scopes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyholder-lint-'));
    const scopes = join(dir, 'scopes.json');
    writeFileSync(scopes, JSON.stringify(BUILTIN_SCOPES.map((s) => s.name)));
    const result = keyholder('lint', 'schema', '--scopes', scopes, '--allow-non-null', 'Query.me');

    const files = readdirSync('schema', { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.graphql'),
    ).length;
    expect(result).toEqual({ code: 0, stdout: `No findings in ${files} files.\n`, stderr: '' });
  });

  it('should exit 0 on a router-annotated subgraph that declares none of the directives', () => {
    const result = keyholder(
      'lint',
      `${fixtures}/router-graph`,
      '--scopes',
      `${fixtures}/router-graph/scopes.txt`,
    );

    expect(result).toEqual({ code: 0, stdout: 'No findings in 2 files.\n', stderr: '' });
  });

  it('should exit 1 and list every finding with file, line and rule', () => {
    const result = keyholder(
      'lint',
      `${fixtures}/findings.graphql`,
      '--scopes',
      `${fixtures}/scopes.json`,
    );
    const file = `${fixtures}/findings.graphql`;

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').map((line) => line.split('  ').slice(0, 2).join(' '))).toEqual(
      [
        `${file}:8:3 weaker-than-interface`,
        `${file}:9:16 malformed-scope`,
        `${file}:13:3 unguarded-field`,
        `${file}:17:3 unguarded-field`,
        `${file}:18:3 unguarded-field`,
        `${file}:21:5 unknown-scope`,
        '6 findings (1 weaker-than-interface, 1 malformed-scope, 3 unguarded-field, 1 unknown-scope).',
        '',
      ],
    );
  });

  it('should print findings as JSON with --format json', () => {
    const result = keyholder(
      'lint',
      `${fixtures}/findings.graphql`,
      '--format',
      'json',
      '--allow-unguarded',
      'Query.health,Query.banner',
      '--allow-unguarded=Banner.text',
    );
    const { findings } = JSON.parse(result.stdout) as { findings: { rule: string }[] };

    expect(result.code).toBe(1);
    expect(findings.map((f) => f.rule)).toEqual(['weaker-than-interface', 'malformed-scope']);
    expect(findings[1]).toEqual({
      rule: 'malformed-scope',
      coordinate: 'Product.name',
      message:
        '@requires on Product.name names "Catalog", which is not a scope: use <resource>:<action> with action read, write or execute.',
      location: { file: `${fixtures}/findings.graphql`, line: 9, column: 16 },
    });
  });

  it('should exit 2 naming the file and line of SDL that does not parse or build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyholder-lint-'));
    const syntax = join(dir, 'syntax.graphql');
    writeFileSync(
      syntax,
      'type Query {\n  a: Int @authenticated\n  b: Int @requires(scope: "a:read"\n}\n',
    );

    expect(keyholder('lint', syntax)).toEqual({
      code: 2,
      stdout: '',
      stderr: `keyholder lint: ${syntax}:4:1: Syntax Error: Expected Name, found "}".\n`,
    });
    expect(keyholder('lint', `${fixtures}/broken/unknown-type.graphql`).stderr).toBe(
      `keyholder lint: ${fixtures}/broken/unknown-type.graphql:3:6: Unknown type "Widget".\n`,
    );
  });

  it('should exit 2 on usage errors', () => {
    for (const args of [
      ['lint'],
      ['lint', 'no/such/dir'],
      ['lint', 'schema', '--format', 'xml'],
      ['lint', 'schema', '--strict'],
      ['lint', 'schema', '--allow-unguarded', 'health'],
      ['audit'],
      [],
    ]) {
      const result = keyholder(...args);

      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toBe('');
    }
    expect(keyholder('lint', 'no/such/dir').stderr).toContain(
      'Cannot read "no/such/dir": no such file or directory.',
    );
  });

  it('should print usage with --help and exit 0', () => {
    const result = keyholder('lint', '--help');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: keyholder lint');
  });
});

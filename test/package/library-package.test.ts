import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const library = fileURLToPath(new URL('../../packages/keyholder-directive/', import.meta.url));
const LIMIT_KB = 15 * 1024;

function registryAnswers(): boolean {
  try {
    execFileSync('npm', ['view', 'graphql@16', 'version'], { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

const online = registryAnswers();

// Installing the tarball needs graphql and the library's dependencies from the npm registry.
describe.skipIf(!online)(
  'keyholder-directive as its own package (skipped: registry unreachable)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyholder-directive-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should install from its tarball with graphql alone, under 15 MB, and import without the server', () => {
      const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: library,
        encoding: 'utf8',
      });
      const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('['))) as [
        { filename: string },
      ];
      writeFileSync(join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n');
      execFileSync(
        'npm',
        ['install', '--no-audit', '--no-fund', join(dir, filename), 'graphql@^16.11.0'],
        { cwd: dir, stdio: 'ignore' },
      );

      const installed = readdirSync(join(dir, 'node_modules'));
      expect(installed).toContain('keyholder-directive');
      for (const server of [
        'keyholder',
        '@apollo',
        '@electric-sql',
        'drizzle-orm',
        'postgres',
        'pino',
      ]) {
        expect(installed).not.toContain(server);
      }
      const kb = Number(
        execFileSync('du', ['-sk', 'node_modules'], { cwd: dir, encoding: 'utf8' }).split('\t')[0],
      );
      expect(kb).toBeLessThan(LIMIT_KB);

      const script = [
        "import { buildSchema, graphql } from 'graphql';",
        "import { lintSchema, requiresDirective } from 'keyholder-directive';",
        'const { typeDefs, transformer } = requiresDirective({ grants: () => [] });',
        'const sdl = `type Query { secret: String @requires(scope: "orders:read") }`;',
        'const schema = transformer(buildSchema(typeDefs + sdl));',
        "const result = await graphql({ schema, source: '{ secret }', rootValue: { secret: 'x' } });",
        'console.log(JSON.stringify({ lint: typeof lintSchema, data: result.data, code: result.errors?.[0]?.extensions?.code }));',
      ].join('\n');
      const out = execFileSync('node', ['--input-type=module', '-e', script], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(JSON.parse(out)).toEqual({
        lint: 'function',
        data: { secret: null },
        code: 'FORBIDDEN',
      });
    });
  },
);

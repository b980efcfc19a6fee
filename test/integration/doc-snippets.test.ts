import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.js';
import { packageRoot } from '../../src/package-root.js';
import { engines } from '../fixtures/engines.js';
import {
  documentationFiles,
  type MarkdownDoc,
  outputMatches,
  readMarkdownDoc,
} from '../fixtures/markdown-docs.js';
import { ShellSession } from '../fixtures/shell-session.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

// Every ```sh test block of README.md and docs/ runs, in order, in one shell session per document,
// against a fresh server of its own configured as `npm start` would be (plus the document's
// `<!-- doc-test server: NAME=value -->` settings). It must exit 0, and print what the ```output
// block after it shows, if any. Snippets run in a scratch directory, or in the repository's root
// where the document says `<!-- doc-test cwd: repository -->`.
const documents: MarkdownDoc[] = documentationFiles()
  .map(readMarkdownDoc)
  .filter((doc) => doc.snippets.length > 0);

/** A server configured from `env` as `npm start` would be, on the spec's own port and database. */
function startDocServer(engine: Parameters<typeof startTestServer>[0], doc: MarkdownDoc) {
  const {
    port: _port,
    host: _host,
    dataDir: _dataDir,
    databaseUrl: _databaseUrl,
    bootstrapAdminKey: _bootstrapAdminKey,
    ...settings
  } = readConfig({ ...doc.serverEnv });
  return startTestServer(engine, settings);
}

describe('the documentation snippets', () => {
  it('should find tested snippets in the README and the guides', () => {
    const files = documents.map((doc) => doc.file);
    expect(files).toContain('README.md');
    expect(files.some((file) => file.startsWith('docs/guides/'))).toBe(true);
  });

  it('should have jq, which the snippets use to read answers', () => {
    expect(
      () => execFileSync('jq', ['--version']),
      'install jq (apt-get install jq)',
    ).not.toThrow();
  });
});

describe.each(engines())('documentation snippets on %s', (engine) => {
  describe.each(documents.map((doc) => [doc.file, doc] as const))('%s', (_file, doc) => {
    let server: TestServer;
    let shell: ShellSession;
    let config: string;

    beforeAll(async () => {
      server = await startDocServer(engine, doc);
      // `keyholder login` in a snippet stores its context here, never in the user's ~/.config.
      config = await mkdtemp(join(tmpdir(), 'kh-doc-config-'));
      shell = new ShellSession(
        {
          XDG_CONFIG_HOME: config,
          KEYHOLDER_URL: server.url,
          ADMIN_KEY: server.adminKey,
          BOOTSTRAP_ADMIN_KEY: server.adminKey,
        },
        doc.inRepository ? packageRoot() : undefined,
      );
    });

    afterAll(async () => {
      await shell?.close();
      await server?.stop();
      if (config) await rm(config, { recursive: true, force: true });
    });

    it.each(doc.snippets.map((snippet) => [`${snippet.file}:${snippet.line}`, snippet] as const))(
      'should run the snippet at %s and print what it shows',
      async (_where, snippet) => {
        const run = await shell.run(snippet.code);
        expect(run.exitCode, `exit code; stderr:\n${run.stderr}\nstdout:\n${run.stdout}`).toBe(0);
        if (snippet.output !== null) {
          expect(
            outputMatches(run.stdout, snippet.output),
            `output differs from the document's.\nprinted:\n${run.stdout}\nshown:\n${snippet.output}`,
          ).toBe(true);
        }
      },
      // Above the shell's own bound for a hung snippet (ShellSession.run).
      120_000,
    );
  });
});

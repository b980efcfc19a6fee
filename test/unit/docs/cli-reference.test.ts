import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_REFERENCE_PATH, renderCliReference } from '../../../scripts/docs/cli-reference.js';
import { packageRoot } from '../../../src/package-root.js';

describe('the CLI reference', () => {
  it('should be what npm run docs:cli generates from src/cli/', () => {
    const committed = readFileSync(join(packageRoot(), CLI_REFERENCE_PATH), 'utf8');
    expect(committed === renderCliReference(), 'stale: run npm run docs:cli').toBe(true);
  });

  it('should document every command the issue names, its flags and the exit codes', () => {
    const reference = renderCliReference();
    for (const command of [
      'serve',
      'migrate',
      'version',
      'login',
      'context ls',
      'whoami',
      'identity create',
      'identity ls',
      'identity show',
      'identity disable',
      'identity enable',
      'key create',
      'key revoke',
      'scope define',
      'scope ls',
      'scope policy',
      'grant',
      'revoke',
      'check',
      'who-can',
      'effective',
      'request create',
      'request ls',
      'request approve',
      'request deny',
      'review start',
      'review ls',
      'review show',
      'review decide',
      'audit search',
      'audit verify',
      'audit tail',
      'lint',
    ]) {
      expect(reference).toContain(`### \`keyholder ${command}\``);
    }
    expect(reference).toContain('| `--explain` |');
    expect(reference).toContain('| `-f, --follow` |');
    expect(reference).toContain(
      '| `--reason <text>` | why, recorded in the audit log (required) |',
    );
    expect(reference).toMatch(/\| 3 \| unauthenticated .* or forbidden/);
  });
});

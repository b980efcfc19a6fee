import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/package-root.js';

const root = packageRoot();

/** The environment variables `src/config.ts` reads (`env.NAME`, `env, 'NAME'`). */
function variablesRead(): string[] {
  const source = readFileSync(join(root, 'src', 'config.ts'), 'utf8');
  const names = [
    ...source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g),
    ...source.matchAll(/\benv, '([A-Z][A-Z0-9_]+)'/g),
  ].map((match) => match[1] as string);
  return [...new Set(names)].sort();
}

describe('the configuration reference', () => {
  it('should find the variables src/config.ts reads', () => {
    expect(variablesRead()).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'OIDC_ISSUERS']),
    );
  });

  it('should list every variable src/config.ts reads in its table', () => {
    const reference = readFileSync(join(root, 'docs', 'reference', 'configuration.md'), 'utf8');
    const missing = variablesRead().filter((name) => !reference.includes(`| \`${name}\` |`));
    expect(missing, 'add a row to docs/reference/configuration.md').toEqual([]);
  });
});

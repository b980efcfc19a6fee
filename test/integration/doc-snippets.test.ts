import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeDocumentSnippets, documents } from '../fixtures/doc-snippets.js';

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

describeDocumentSnippets('pglite');

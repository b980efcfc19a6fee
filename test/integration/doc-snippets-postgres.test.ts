import { describe, it } from 'vitest';
import { describeDocumentSnippets } from '../fixtures/doc-snippets.js';
import { engines } from '../fixtures/engines.js';

// The same snippets as doc-snippets.test.ts (PGlite), on PostgreSQL: a file of its own so that the
// two engines' runs go side by side.
if (engines().includes('postgres')) {
  describeDocumentSnippets('postgres');
} else {
  describe('documentation snippets on postgres', () => {
    it.skip('needs DATABASE_URL naming a PostgreSQL server', () => {});
  });
}

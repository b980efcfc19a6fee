import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const library = fileURLToPath(new URL('./packages/keyholder-directive/src/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      // Node resolves graphql 16 to its CommonJS build (package "main"); make Vite do the same so
      // graphql-tools and our code share one graphql instance.
      { find: /^graphql$/, replacement: 'graphql/index.js' },
      // Specs run the library from its sources: one copy shared by the server and the specs.
      { find: /^keyholder-directive$/, replacement: `${library}index.ts` },
      { find: /^keyholder-directive\/(.*)\.js$/, replacement: `${library}$1.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'console/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Spec files share their worker process, a module graph imported once per worker rather than
    // once per file (about 3 s each, 139 files), and two workers even on two cores: the full suite
    // took 1,406 s one file at a time, isolated, and 722 s so (docs/development.md). So nothing
    // may stay behind a spec file: every server it starts is stopped, every global it sets
    // restored.
    isolate: false,
    maxWorkers: Math.max(2, availableParallelism()),
  },
});

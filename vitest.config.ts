import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node resolves graphql 16 to its CommonJS build (package "main"); make Vite do the same so
  // graphql-tools and our code share one graphql instance.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts', 'console/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Spec files mostly wait on servers, databases and child processes: on a 2-core machine,
    // vitest's default (cores - 1) runs them one at a time. Three at once keep both cores busy.
    maxWorkers: Math.max(3, availableParallelism()),
  },
});

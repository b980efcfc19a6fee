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
  },
});

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
  },
});

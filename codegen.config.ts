/**
 * Generated from the SDL (`npm run codegen`, part of `build` and `lint`), never committed:
 * - resolver types: a schema change that a resolver misses fails the type check;
 * - the console's typed operations (graphql-codegen's client preset, over the `graphql(…)` calls
 *   in console/src): a schema change that the console misses fails its type check.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { requiresTypeDefs } from './packages/keyholder-directive/src/directive/type-defs.js';

const config: CodegenConfig = {
  schema: [requiresTypeDefs, 'schema/*.graphql'],
  generates: {
    'src/generated/resolvers.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        contextType: '../context/keyholder-context.js#KeyholderContext',
        defaultMapper: 'any',
        scalars: {
          DateTime: 'Date',
          JSON: 'unknown',
          Revision: 'string',
          SafeInt: 'number',
        },
        enumsAsTypes: true,
        immutableTypes: true,
        avoidOptionals: false,
        useIndexSignature: false,
      },
    },
    'console/src/gql/': {
      documents: ['console/src/**/*.{ts,tsx}', '!console/src/gql/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: {
          ID: 'string',
          DateTime: 'string',
          JSON: 'unknown',
          Revision: 'string',
          SafeInt: 'number',
        },
      },
    },
  },
  silent: true,
};

export default config;

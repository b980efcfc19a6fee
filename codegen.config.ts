/**
 * Resolver types generated from the SDL (`npm run codegen`, part of `build` and `lint`): a schema
 * change that a resolver misses fails the type check. The output is not committed.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { requiresTypeDefs } from './src/directive/type-defs.js';

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
  },
  silent: true,
};

export default config;

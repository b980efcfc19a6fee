import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  renderSchemaReference,
  SCHEMA_REFERENCE_PATH,
} from '../../../scripts/docs/schema-reference.js';
import { packageRoot } from '../../../src/package-root.js';

describe('the schema reference', () => {
  it('should be what npm run docs:schema generates from schema/*.graphql', () => {
    const committed = readFileSync(join(packageRoot(), SCHEMA_REFERENCE_PATH), 'utf8');
    expect(committed === renderSchemaReference(), 'stale: run npm run docs:schema').toBe(true);
  });

  it('should show every root field with its guard', () => {
    const reference = renderSchemaReference();
    expect(reference).toContain('### `Mutation.revokeGrant`');
    expect(reference).toContain('Guard: `@requires(allOf: ["grants:write", "grants:read"])`');
    expect(reference).toContain(
      '### `Query.me`\n\n```graphql\nme: Identity!\n```\n\nReturns [`Identity!`](#identity). Guard: `@authenticated`',
    );
  });

  it('should change when the SDL does', () => {
    const sdl = `
      directive @requires(scope: String) on FIELD_DEFINITION
      "A note."
      type Query { note(id: ID!): String @requires(scope: "notes:read") }`;
    expect(renderSchemaReference([sdl])).toContain(
      '### `Query.note`\n\n```graphql\nnote(id: ID!): String\n```\n\nReturns `String`. Guard: `@requires(scope: "notes:read")`',
    );
  });
});

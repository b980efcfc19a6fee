import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDirective } from '@graphql-tools/utils';
import { buildSchema, isObjectType, parse, print } from 'graphql';
import { assertRootFieldsGuarded } from 'keyholder-directive/directive/assert-root-fields-guarded.js';
import { requiresTypeDefs } from 'keyholder-directive/directive/type-defs.js';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/package-root.js';
import { buildKeyholderSchema, keyholderTypeDefs } from '../../../src/server/schema.js';
import { buildKeyholderSubgraphSchema } from '../../../src/server/subgraph-schema.js';

describe("Keyholder's own schema", () => {
  it('should take its directives from the library, their one source', () => {
    const files = readdirSync(join(packageRoot(), 'schema')).filter((f) => f.endsWith('.graphql'));
    for (const file of files) {
      const sdl = readFileSync(join(packageRoot(), 'schema', file), 'utf8');
      expect(sdl, `schema/${file} declares a directive`).not.toMatch(/^\s*directive\s+@/m);
    }
    const schema = buildSchema(keyholderTypeDefs().join('\n'));
    const served = ['requires', 'authenticated'].map((name) => {
      const node = schema.getDirective(name)?.astNode;
      if (node === undefined || node === null) throw new Error(`@${name} is not declared.`);
      return print(node);
    });
    const scalar = schema.getType('RequiresProperties')?.astNode;
    if (scalar === undefined || scalar === null)
      throw new Error('RequiresProperties is not declared.');
    served.splice(1, 0, print(scalar));
    expect(served.join('\n\n')).toBe(print(parse(requiresTypeDefs)));
  });

  it('should guard every root field with @requires or @authenticated', () => {
    const schema = buildSchema(keyholderTypeDefs().join('\n'));
    expect(() => assertRootFieldsGuarded(schema)).not.toThrow();
    const roots = [schema.getQueryType(), schema.getMutationType()].filter(isObjectType);
    const fields = roots.flatMap((type) => Object.values(type.getFields()));
    expect(fields.length).toBeGreaterThan(10);
    for (const field of fields) {
      const guards = [
        ...(getDirective(schema, field, 'requires') ?? []),
        ...(getDirective(schema, field, 'authenticated') ?? []),
      ];
      expect(guards.length, `${field.name} is unguarded`).toBeGreaterThan(0);
    }
  });

  it('should refuse a schema that gains an unguarded root field', () => {
    const schema = buildSchema(
      `${keyholderTypeDefs().join('\n')}\nextend type Query { leak: String }`,
    );
    expect(() => assertRootFieldsGuarded(schema)).toThrow(/Query\.leak/);
  });

  it('should build the executable, guarded schema', () => {
    const schema = buildKeyholderSchema();
    expect(schema.getQueryType()?.getFields().check).toBeDefined();
  });

  it("should serve the scalar descriptions written in schema/, not the resolvers' own", () => {
    const written = buildSchema(keyholderTypeDefs().join('\n'));
    const served = buildKeyholderSchema();
    for (const name of ['DateTime', 'Revision', 'JSON', 'SafeInt']) {
      const description = written.getType(name)?.description;
      expect(description, `${name} has a description in schema/`).toBeTruthy();
      expect(served.getType(name)?.description, name).toBe(description);
    }
  });

  it('should serve no federation fields by default', () => {
    const fields = buildKeyholderSchema().getQueryType()?.getFields() ?? {};
    expect(fields._service).toBeUndefined();
    expect(fields._entities).toBeUndefined();
  });

  it('should build the subgraph schema with _service and _entities guarded by @authenticated', () => {
    const schema = buildKeyholderSubgraphSchema();
    expect(() => assertRootFieldsGuarded(schema)).not.toThrow();
    const fields = schema.getQueryType()?.getFields() ?? {};
    for (const name of ['_service', '_entities']) {
      const field = fields[name];
      expect(field, name).toBeDefined();
      if (field) expect(getDirective(schema, field, 'authenticated'), name).toEqual([{}]);
    }
    expect(fields.check).toBeDefined();
    expect(schema.getDirective('requires')?.args.map((a) => a.name)).toContain('orSelf');
    expect(schema.getDirective('federation__requires')?.args.map((a) => a.name)).toEqual([
      'fields',
    ]);
  });
});

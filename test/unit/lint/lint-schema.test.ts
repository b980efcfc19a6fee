import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { Source } from 'graphql';
import { describe, expect, it } from 'vitest';
import { type Finding, lintSchema, requiresTypeDefs, SchemaLoadError } from '../../../src/index.js';
import { BUILTIN_SCOPES } from '../../../src/modules/scopes/builtin-scopes.js';

const summary = (findings: readonly Finding[]) => findings.map((f) => `${f.rule} ${f.coordinate}`);

describe('lintSchema', () => {
  it('should find nothing in Keyholder’s own schema, with its built-in scopes', () => {
    const dir = join(import.meta.dirname, '../../../schema');
    const sources = readdirSync(dir)
      .filter((file) => file.endsWith('.graphql'))
      .map((file) => new Source(readFileSync(join(dir, file), 'utf8'), `schema/${file}`));

    expect(
      lintSchema(sources, {
        knownScopes: BUILTIN_SCOPES.map((s) => s.name),
        allowNonNull: ['Query.me'],
      }),
    ).toEqual([]);
  });

  describe('non-null-guarded-field', () => {
    const rules = (sdl: string) =>
      lintSchema(sdl)
        .filter((f) => f.rule === 'non-null-guarded-field')
        .map((f) => [f.coordinate, f.message.startsWith('The items') ? 'items' : 'field']);

    it('should report a guarded root field, and a field returning a stricter type, declared non-null', () => {
      expect(
        rules(`
          type Query {
            orders: [Order!]! @requires(scope: "orders:read")
            open: Int @requires(scope: "orders:read")
            me: Person! @authenticated
          }
          type Order @requires(scope: "orders:read") {
            id: ID!
            customer: Customer!
            total: Int! @requires(scope: "payments:read")
          }
          type Customer @requires(scope: "customers:read") { id: ID! }
          type Person @authenticated { id: ID! }
        `),
      ).toEqual([
        ['Query.orders', 'field'],
        ['Order.customer', 'field'],
        ['Order.total', 'field'],
      ]);
    });

    it('should not report what every path to the type already required, and report items decided one by one', () => {
      expect(
        rules(`
          type Query { shop: Shop @requires(scope: "orders:read") }
          type Shop { page: OrderPage!, owners: [Person!] }
          type OrderPage { nodes: [Order!]! }
          type Order @requires(scope: "orders:read") { id: ID! }
          type Person @requires(scope: "people:read", orSelf: "parent.id") { id: ID! }
        `),
      ).toEqual([['Shop.owners', 'items']]);
    });

    it('should leave out the coordinates allowed non-null', () => {
      const sdl = 'type Query { n: Int! @requires(scope: "a:read") }';
      expect(lintSchema(sdl, { allowNonNull: ['Query.n'] })).toEqual([]);
      expect(lintSchema(sdl)[0]).toMatchObject({
        rule: 'non-null-guarded-field',
        coordinate: 'Query.n',
      });
    });
  });

  describe('unguarded-field', () => {
    it('should report root fields with no requirement, with file and line', () => {
      const sdl = new Source(
        'type Query {\n  health: String\n  orders: Int @requires(scope: "orders:read")\n}',
        'shop.graphql',
      );

      expect(lintSchema(sdl)).toEqual([
        {
          rule: 'unguarded-field',
          coordinate: 'Query.health',
          message:
            'Query.health has no requirement and is a root field of Query: add @requires, @requiresScopes or @authenticated to it or its type, or allow it explicitly.',
          location: { file: 'shop.graphql', line: 2, column: 3 },
        },
      ]);
    });

    it('should treat everything below a guarded field as guarded', () => {
      const sdl = /* GraphQL */ `
        type PageInfo { hasNextPage: Boolean! }
        type OrderConnection { nodes: [Int!]! pageInfo: PageInfo! }
        type Query { orders: OrderConnection @requires(scope: "orders:read") }
      `;

      expect(lintSchema(sdl)).toEqual([]);
    });

    it('should follow unguarded fields into their types, interfaces and unions', () => {
      const sdl = /* GraphQL */ `
        interface Named { name: String }
        type Cat implements Named { name: String @authenticated lives: Int }
        type Dog implements Named @requires(scope: "dogs:read") { name: String }
        union Pet = Cat | Dog
        type Query { named: Named @authenticated pets: [Pet!]! }
      `;

      expect(summary(lintSchema(sdl))).toEqual([
        'unguarded-field Cat.lives',
        'unguarded-field Query.pets',
      ]);
      expect(lintSchema(sdl)[0]?.message).toContain('is reachable through Query.pets');
    });

    it('should count a requirement on the type a field returns (Apollo’s reading)', () => {
      const sdl = /* GraphQL */ `
        scalar Email @requiresScopes(scopes: [["pii:read"]])
        type Invoice @authenticated { id: ID! }
        type Query { email: Email invoice: Invoice }
      `;

      expect(lintSchema(sdl)).toEqual([]);
    });

    it('should treat federation entities as entry points', () => {
      const sdl = /* GraphQL */ `
        type Product @key(fields: "id") { id: ID! @authenticated price: Int }
        type Query { top: Product @authenticated }
      `;

      expect(summary(lintSchema(sdl))).toEqual(['unguarded-field Product.price']);
    });

    it('should not report fields allowed explicitly, but still check what they return', () => {
      const sdl = /* GraphQL */ `
        type Status { ok: Boolean  detail: String @authenticated }
        type Query { health: Status }
      `;

      expect(summary(lintSchema(sdl, { allowUnguarded: ['Query.health'] }))).toEqual([
        'unguarded-field Status.ok',
      ]);
    });
  });

  describe('weaker-than-interface', () => {
    const sdl = /* GraphQL */ `
      interface Node {
        id: ID! @authenticated
        secret: String @requires(scope: "secrets:read", resource: "parent.id")
        notes: String @requiresScopes(scopes: [["crm:read", "notes:read"], ["support:execute"]])
      }
      type Ticket implements Node @requires(scope: "tickets:read") {
        id: ID!
        secret: String @requires(scope: "secrets:read")
        notes: String @requiresScopes(scopes: [["support:execute"]])
      }
      type Lead implements Node @requires(scope: "leads:read") {
        id: ID!
        secret: String @requires(scope: "secrets:read", resource: "parent.owner")
        notes: String @requires(scope: "crm:read")
      }
      type Query { nodes: [Node!]! @authenticated }
    `;

    it('should accept implementations that declare at least what their interface does', () => {
      const findings = lintSchema(sdl).filter((f) => f.coordinate.startsWith('Ticket.'));

      expect(findings).toEqual([]);
    });

    it('should report an implementation that declares less, saying what is missing', () => {
      const findings = lintSchema(sdl).filter((f) => f.rule === 'weaker-than-interface');

      expect(summary(findings)).toEqual([
        'weaker-than-interface Lead.secret',
        'weaker-than-interface Lead.notes',
      ]);
      expect(findings[1]?.message).toBe(
        'Lead.notes declares less than Node.notes, which requires one of ("crm:read" and "notes:read") or ("support:execute"): Keyholder still enforces it, but declare it on Lead.notes or type Lead so the SDL says so.',
      );
    });

    it('should report an implementation with nothing at all where the interface asks for a caller', () => {
      const bare = /* GraphQL */ `
        interface Node { id: ID! @authenticated }
        type Tag implements Node { id: ID! }
        type Query { tags: [Tag!] @requires(scope: "tags:read") }
      `;

      expect(lintSchema(bare).map((f) => f.message)).toEqual([
        'Tag.id declares less than Node.id, which requires an authenticated caller: Keyholder still enforces it, but declare it on Tag.id or type Tag so the SDL says so.',
      ]);
    });
  });

  describe('scope names', () => {
    const sdl = /* GraphQL */ `
      type Query {
        a: Int @requires(scope: "Orders:Read")
        b: Int @requiresScopes(scopes: [["orders:read", "admin"]])
        c: Int @requires(anyOf: ["orders:read", "ordres:read"])
        d: Int @requires(resource: "args.id")
      }
    `;

    it('should report malformed names and invalid declarations without a scope list', () => {
      expect(summary(lintSchema(sdl))).toEqual([
        'malformed-scope Query.a',
        'malformed-scope Query.b',
        'invalid-requirement Query.d',
        'invalid-requirement Query.d',
      ]);
    });

    it('should report well-formed names missing from the known scopes', () => {
      const findings = lintSchema(sdl, { knownScopes: ['orders:read'] });

      expect(summary(findings.filter((f) => f.rule === 'unknown-scope'))).toEqual([
        'unknown-scope Query.c',
      ]);
      expect(findings.find((f) => f.rule === 'unknown-scope')?.message).toBe(
        '@requires on Query.c names "ordres:read", which is not a known scope: define it, or fix the name.',
      );
    });
  });

  describe('input', () => {
    it('should lint a schema built in code', () => {
      const schema = makeExecutableSchema({
        typeDefs: [requiresTypeDefs, 'type Query { a: Int b: Int @authenticated }'],
      });

      expect(lintSchema(schema)).toEqual([
        expect.objectContaining({ rule: 'unguarded-field', coordinate: 'Query.a' }),
      ]);
    });

    it('should read directives under other names', () => {
      const sdl = 'type Query { a: Int @needs(scope: "a:read") b: Int @signedIn }';

      expect(lintSchema(sdl, { names: { requires: 'needs', authenticated: 'signedIn' } })).toEqual(
        [],
      );
    });

    it('should throw naming the file and line when the SDL does not parse or build', () => {
      const broken = new Source('type Query {\n  a: Int\n  b: Widget\n}', 'broken.graphql');

      expect(() => lintSchema('type Query {')).toThrow(SchemaLoadError);
      expect(() => lintSchema(broken)).toThrow(
        expect.objectContaining({
          message: 'Unknown type "Widget".',
          location: { file: 'broken.graphql', line: 3, column: 6 },
        }),
      );
    });
  });
});

import { buildSubgraphSchema } from '@apollo/subgraph';
import { graphql, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { type GrantLike, requiresDirective } from '../../../src/index.js';

interface Ctx {
  readonly grants: readonly GrantLike[];
}

/**
 * A subgraph whose `Order` entity is guarded per instance and whose `Shelf` entity is guarded by
 * a field a representation does not carry; `looked` records which references were resolved.
 */
function buildOrdersSubgraph() {
  const looked: string[] = [];
  const { typeDefs, transformer } = requiresDirective<Ctx>({ grants: (ctx) => ctx.grants });
  const resolveReference = (reference: { id: string }) => {
    looked.push(reference.id);
    return { id: reference.id, total: 10, warehouse: 'wh-1', text: 'hi', secret: 's' };
  };
  const schema = buildSubgraphSchema([
    {
      typeDefs: parse(/* GraphQL */ `
        ${typeDefs}
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Query { health: String }
        type Order @key(fields: "id") @requires(scope: "orders:read", resource: "parent.id") {
          id: ID!
          total: Int
        }
        type Shelf @key(fields: "id") @requires(scope: "shelves:read", resource: "parent.warehouse") {
          id: ID!
          warehouse: String
        }
        type Note @key(fields: "id") {
          id: ID!
          secret: String @requires(scope: "notes:read")
          text: String
        }
      `),
      resolvers: {
        Order: { __resolveReference: resolveReference },
        Shelf: { __resolveReference: resolveReference },
        Note: { __resolveReference: resolveReference },
      },
    },
  ]);
  const guarded = transformer(schema);
  const run = (representations: unknown[], grants: GrantLike[], selection: string) =>
    graphql({
      schema: guarded,
      source: `query($r: [_Any!]!) { _entities(representations: $r) { ${selection} } }`,
      variableValues: { r: representations },
      contextValue: { grants },
    });
  return { run, looked };
}

describe('@requires on federation entities (_entities)', () => {
  it("should decide an entity type's requirement on each representation before resolving it", async () => {
    const subgraph = buildOrdersSubgraph();

    const result = await subgraph.run(
      [
        { __typename: 'Order', id: 'ord-1' },
        { __typename: 'Order', id: 'ord-2' },
      ],
      [{ scope: 'orders:read', resource: 'ord-1' }],
      '... on Order { id total }',
    );

    expect(result.data).toEqual({ _entities: [{ id: 'ord-1', total: 10 }, null] });
    expect(result.errors?.map((e) => [e.path, e.extensions.code, e.message])).toEqual([
      [
        ['_entities', 1],
        'FORBIDDEN',
        'Access to "Order" requires scope "orders:read" on resource "ord-2".',
      ],
    ]);
    expect(subgraph.looked).toEqual(['ord-1']);
  });

  it('should read a path the representation does not carry as needing a grant on every resource', async () => {
    const subgraph = buildOrdersSubgraph();
    const representations = [{ __typename: 'Shelf', id: 'sh-1' }];

    const scoped = await subgraph.run(
      representations,
      [{ scope: 'shelves:read', resource: 'wh-1' }],
      '... on Shelf { id }',
    );
    const everywhere = await subgraph.run(
      representations,
      [{ scope: 'shelves:read' }],
      '... on Shelf { id }',
    );

    expect(scoped.errors?.[0]?.message).toBe(
      'Access to "Shelf" requires scope "shelves:read" on every resource.',
    );
    expect(everywhere.data).toEqual({ _entities: [{ id: 'sh-1' }] });
    expect(subgraph.looked).toEqual(['sh-1']);
  });

  it('should leave entity types without a requirement of their own to their fields’ guards', async () => {
    const subgraph = buildOrdersSubgraph();

    const result = await subgraph.run(
      [{ __typename: 'Note', id: 'n-1' }],
      [],
      '... on Note { text secret }',
    );

    expect(result.data).toEqual({ _entities: [{ text: 'hi', secret: null }] });
    expect(result.errors?.map((e) => [e.path, e.extensions.code])).toEqual([
      [['_entities', 0, 'secret'], 'FORBIDDEN'],
    ]);
  });
});

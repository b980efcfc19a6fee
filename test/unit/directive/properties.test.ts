import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  type ConditionalGrant,
  conditionContextOf,
  GrantConditions,
  type GrantLike,
  requiresDirective,
} from '../../../src/index.js';

type Grant = GrantLike & ConditionalGrant;
interface Ctx {
  readonly grants: readonly Grant[];
  readonly email: string;
}

const DOCUMENTS = [
  { id: 'd1', title: 'Mine', ownerEmail: 'ada@example.com' },
  { id: 'd2', title: 'Theirs', ownerEmail: 'bob@example.com' },
];

function build() {
  const { typeDefs, transformer } = requiresDirective<Ctx, Grant>({
    grants: (ctx) => ctx.grants,
    gate: (ctx) =>
      new GrantConditions<Grant>(
        () => undefined,
        () => conditionContextOf({ identity: { attributes: { email: ctx.email } } }),
        undefined,
      ),
  });
  return transformer(
    makeExecutableSchema({
      typeDefs: [
        typeDefs,
        /* GraphQL */ `
          type Document {
            id: ID!
            title: String
              @requires(scope: "docs:read", properties: { ownerEmail: "parent.ownerEmail" })
          }
          type Query {
            documents: [Document!]!
            document(id: ID!, owner: String): Document
              @requires(scope: "docs:read", resource: "args.id", properties: { owner: "args.owner" })
          }
        `,
      ],
      resolvers: {
        Query: {
          documents: () => DOCUMENTS,
          document: (_: unknown, args: { id: string }) => DOCUMENTS.find((d) => d.id === args.id),
        },
      },
    }),
  );
}

const OWNER_ONLY = 'properties.ownerEmail == identity.attributes.email';

describe('@requires(properties:) feeding grant conditions', () => {
  it('should decide per value with the properties read from the parent, and the type as resourceType', async () => {
    const schema = build();
    const result = await graphql({
      schema,
      source: '{ documents { id title } }',
      contextValue: {
        email: 'ada@example.com',
        grants: [
          {
            id: 'g1',
            scope: 'docs:read',
            condition: `${OWNER_ONLY} && resourceType == "Document"`,
          },
        ],
      },
    });
    expect(result.data).toEqual({
      documents: [
        { id: 'd1', title: 'Mine' },
        { id: 'd2', title: null },
      ],
    });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.message).toContain('properties.ownerEmail = "bob@example.com"');
  });

  it('should read properties from arguments, and deny when a property is missing (fail closed)', async () => {
    const schema = build();
    const ask = (source: string) =>
      graphql({
        schema,
        source,
        contextValue: {
          email: 'ada@example.com',
          grants: [
            {
              id: 'g1',
              scope: 'docs:read',
              condition: 'properties.owner == identity.attributes.email',
            },
          ],
        },
      });
    expect((await ask('{ document(id: "d1", owner: "ada@example.com") { id } }')).data).toEqual({
      document: { id: 'd1' },
    });
    const missing = await ask('{ document(id: "d1") { id } }');
    expect(missing.data).toEqual({ document: null });
    expect(missing.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('should let a grant without conditions through whatever the properties say', async () => {
    const result = await graphql({
      schema: build(),
      source: '{ documents { title } }',
      contextValue: { email: 'x@example.com', grants: [{ id: 'g1', scope: 'docs:read' }] },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ documents: [{ title: 'Mine' }, { title: 'Theirs' }] });
  });

  it('should refuse a properties argument that is not an object of paths', () => {
    const { typeDefs, transformer } = requiresDirective<Ctx, Grant>({
      grants: (ctx) => ctx.grants,
    });
    expect(() =>
      transformer(
        makeExecutableSchema({
          typeDefs: [
            typeDefs,
            'type Query { a: String @requires(scope: "a:read", properties: { x: "nowhere" }) }',
          ],
        }),
      ),
    ).toThrow(/properties\.x/);
  });
});

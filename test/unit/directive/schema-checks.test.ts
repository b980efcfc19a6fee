import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  assertRootFieldsGuarded,
  type GrantLike,
  InvalidRequirementError,
  type RequiresDirectiveOptions,
  requiresDirective,
} from '../../../src/index.js';
import { buildSample } from './sample-schema.js';

type Context = { grants: GrantLike[]; identityId?: string | null };

const withPrincipal: RequiresDirectiveOptions<Context> = {
  grants: (context) => context.grants,
  principal: (context) => context.identityId,
};

function transform(sdl: string, options: RequiresDirectiveOptions<Context> = withPrincipal) {
  const { typeDefs, transformer } = requiresDirective(options);
  return transformer(makeExecutableSchema({ typeDefs: [typeDefs, sdl] }));
}

describe('refusing directive usage it cannot enforce', () => {
  it('should transform a schema that uses the directives correctly', () => {
    const sdl = /* GraphQL */ `
      type Order @requires(scope: "orders:read", resource: "parent.id") { id: ID! }
      type Query { order(id: ID!): Order @requires(scope: "orders:read", resource: "args.id") }
    `;

    expect(() => transform(sdl)).not.toThrow();
  });

  it('should refuse a scope that is not <resource>:<action>', () => {
    const sdl = 'type Query { orders: Int @requires(scope: "Orders:Read") }';

    expect(() => transform(sdl)).toThrow(InvalidRequirementError);
    expect(() => transform(sdl)).toThrow(
      '@requires on Query.orders names "Orders:Read", which is not a scope: use <resource>:<action> with action read, write or execute.',
    );
  });

  it('should refuse a malformed scope in anyOf or allOf', () => {
    expect(() =>
      transform('type Query { a: Int @requires(anyOf: ["orders:read", "orders:delete"]) }'),
    ).toThrow(/"orders:delete", which is not a scope/);
    expect(() => transform('type Query { a: Int @requires(allOf: ["orders"]) }')).toThrow(
      /"orders", which is not a scope/,
    );
  });

  it('should refuse a requirement that names no scope', () => {
    expect(() =>
      transform('type Query { order(id: ID!): Int @requires(resource: "args.id") }'),
    ).toThrow(
      '@requires on Query.order names no scope: give scope, allOf or anyOf (use @authenticated for "any caller").',
    );
  });

  it('should refuse a resource that is not a path', () => {
    expect(() =>
      transform(
        'type Query { order(id: ID!): Int @requires(scope: "orders:read", resource: "id") }',
      ),
    ).toThrow(
      '@requires(resource: "id") on Query.order is not a path: use "args.<name>" or "parent.<field>".',
    );
    expect(() =>
      transform(
        'type Query { order(id: ID!): Int @requires(scope: "orders:read", resource: "source.id") }',
      ),
    ).toThrow(InvalidRequirementError);
  });

  it('should refuse an argument path in a type-level requirement', () => {
    const sdl = /* GraphQL */ `
      type Order @requires(scope: "orders:read", resource: "args.id") { id: ID! }
      type Query { order: Order @authenticated }
    `;

    expect(() => transform(sdl)).toThrow(
      /on type Order reads an argument, but type-level requirements/,
    );
  });

  it('should refuse an argument path in an interface-level requirement', () => {
    const sdl = /* GraphQL */ `
      interface Node @requires(scope: "nodes:read", orSelf: "args.id") { id: ID! }
      type Order implements Node { id: ID! }
      type Query { order: Order @authenticated }
    `;

    expect(() => transform(sdl)).toThrow(/on interface Node reads an argument/);
  });

  it('should refuse an argument path naming an argument the field does not have', () => {
    const sdl =
      'type Query { order(id: ID!): Int @requires(scope: "orders:read", resource: "args.orderId") }';

    expect(() => transform(sdl)).toThrow(
      '@requires(resource: "args.orderId") on Query.order reads argument "orderId", which the field does not have.',
    );
  });

  it('should refuse @authenticated without a principal option', () => {
    const sdl = 'type Query { me: Int @authenticated }';

    expect(() => transform(sdl, { grants: (context) => context.grants })).toThrow(
      'Query.me uses @authenticated or orSelf, which need requiresDirective({ principal }) to know the caller.',
    );
  });

  it('should refuse a type-level @authenticated without a principal option', () => {
    const sdl = 'type Query @authenticated { me: Int }';

    expect(() => transform(sdl, { grants: (context) => context.grants })).toThrow(
      InvalidRequirementError,
    );
  });

  it('should refuse orSelf without a principal option', () => {
    const sdl =
      'type Query { identity(id: ID!): Int @requires(scope: "identities:read", orSelf: "args.id") }';

    expect(() => transform(sdl, { grants: (context) => context.grants })).toThrow(
      /Query.identity uses @authenticated or orSelf/,
    );
  });

  it('should enforce directives under the names it is given', async () => {
    const { typeDefs, transformer } = requiresDirective<Context>({
      ...withPrincipal,
      names: { requires: 'needs', authenticated: 'signedIn' },
    });
    const schema = transformer(
      makeExecutableSchema({
        typeDefs: [
          typeDefs,
          'type Query { secret: String @needs(scope: "secrets:read") me: String @signedIn }',
        ],
        resolvers: { Query: { secret: () => 'hunter2', me: () => 'ada' } },
      }),
    );
    const result = await graphql({
      schema,
      source: '{ secret me }',
      contextValue: { grants: [], identityId: null },
    });

    expect(typeDefs).toContain('directive @needs(');
    expect(typeDefs).toContain('directive @signedIn on');
    expect(result.data).toEqual({ secret: null, me: null });
    expect(result.errors?.map((e) => e.extensions.code)).toEqual(['FORBIDDEN', 'UNAUTHENTICATED']);
  });
});

describe('assertRootFieldsGuarded', () => {
  const { typeDefs } = requiresDirective(withPrincipal);

  it('should throw naming every unguarded root field', () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        typeDefs,
        /* GraphQL */ `
          type Query { health: String  orders: Int @requires(scope: "orders:read")  me: String @authenticated }
          type Mutation { reset: Boolean  cancel: Boolean @requires(scope: "orders:write") }
          type Subscription { ticks: Int }
        `,
      ],
    });

    expect(() => assertRootFieldsGuarded(schema)).toThrow(
      'Refusing to serve a schema with unguarded root fields: Query.health, Mutation.reset, Subscription.ticks. Add @requires or @authenticated to each.',
    );
  });

  it('should accept a schema whose root fields are all guarded, by field or by type', () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        typeDefs,
        /* GraphQL */ `
          type Query @authenticated { health: String  me: String }
          type Mutation { cancel: Boolean @requires(scope: "orders:write") }
        `,
      ],
    });

    expect(() => assertRootFieldsGuarded(schema)).not.toThrow();
  });

  it('should find the unguarded root field of a transformed schema', () => {
    const sample = buildSample();

    expect(() => assertRootFieldsGuarded(sample.schema)).toThrow(
      /unguarded root fields: Query\.health\./,
    );
  });

  it('should read the directive names it is given', () => {
    const renamed = requiresDirective({
      ...withPrincipal,
      names: { requires: 'needs', authenticated: 'signedIn' },
    });
    const schema = makeExecutableSchema({
      typeDefs: [
        renamed.typeDefs,
        'type Query { a: Int @needs(scope: "a:read") b: Int @signedIn }',
      ],
    });

    expect(() =>
      assertRootFieldsGuarded(schema, { requires: 'needs', authenticated: 'signedIn' }),
    ).not.toThrow();
    expect(() => assertRootFieldsGuarded(schema)).toThrow(/Query\.a, Query\.b/);
  });
});

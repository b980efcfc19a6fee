import { makeExecutableSchema } from '@graphql-tools/schema';
import { type ExecutionResult, graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  assertRootFieldsGuarded,
  type GrantLike,
  InvalidRequirementError,
  type RequiresDirectiveOptions,
  requiresDirective,
  requiresScopesTypeDefs,
} from '../../../src/index.js';

type Context = { grants: GrantLike[]; identityId?: string | null };

const options: RequiresDirectiveOptions<Context> = {
  grants: (context) => context.grants,
  principal: (context) => context.identityId,
  compat: { requiresScopes: true },
};

/** A graph annotated for Apollo Router: only `@requiresScopes` and `@authenticated`. */
const routerGraph = /* GraphQL */ `
  scalar Email @requiresScopes(scopes: [["customers.pii:read"]])
  enum Tier @authenticated { GOLD SILVER }

  interface Node @requiresScopes(scopes: [["nodes:read"]]) { id: ID! }

  type Invoice @requiresScopes(scopes: [["billing:read"]]) {
    id: ID!
    amount: Int
  }

  type Customer implements Node {
    id: ID!
    email: Email
    tier: Tier
    notes: String @requiresScopes(scopes: [["crm:read", "crm.notes:read"], ["support:execute"]])
      @requires(scope: "customers:read")
  }

  type Query {
    customer: Customer @requiresScopes(scopes: [["customers:read"], ["support:execute"]])
    report: String @requiresScopes(scopes: [["reports:read", "billing:read"]])
    invoice: Invoice @authenticated
  }

  type Mutation {
    payInvoice: Invoice @authenticated
  }
`;

function build(calls: string[] = []) {
  const { typeDefs, transformer } = requiresDirective(options);
  const customer = { id: 'c1', email: 'ada@example.com', tier: 'GOLD', notes: 'likes tea' };
  const invoice = { id: 'i1', amount: 12 };
  return transformer(
    makeExecutableSchema({
      typeDefs: [typeDefs, routerGraph],
      resolvers: {
        Query: { customer: () => customer, report: () => 'q3', invoice: () => invoice },
        Mutation: {
          payInvoice: () => {
            calls.push('payInvoice');
            return invoice;
          },
        },
      },
    }),
  );
}

function transform(sdl: string) {
  const { typeDefs, transformer } = requiresDirective(options);
  return transformer(makeExecutableSchema({ typeDefs: [typeDefs, sdl] }));
}

const grant = (scope: string): GrantLike => ({ scope, resource: null });

async function run(
  source: string,
  scopes: string[],
  schema = build(),
): Promise<ExecutionResult & { messages: string[] }> {
  const result = await graphql({
    schema,
    source,
    contextValue: { grants: scopes.map(grant), identityId: 'id-1' },
  });
  return { ...result, messages: (result.errors ?? []).map((e) => e.message) };
}

describe('@requiresScopes (Apollo Router spelling)', () => {
  it('should declare Apollo’s directive and scalar with compat.requiresScopes', () => {
    const { typeDefs } = requiresDirective(options);

    expect(typeDefs).toContain('scalar federation__Scope');
    expect(typeDefs).toContain(
      'directive @requiresScopes(scopes: [[federation__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM',
    );
    expect(typeDefs).toContain(
      'directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM',
    );
    expect(requiresDirective({ grants: () => [] }).typeDefs).not.toContain('requiresScopes');
  });

  it('should allow an inner list only when every scope of it is held (AND)', async () => {
    const partial = await run('{ report }', ['reports:read']);
    const whole = await run('{ report }', ['reports:read', 'billing:read']);

    expect(partial.data).toEqual({ report: null });
    expect(partial.messages).toEqual([
      'Access to "Query.report" requires scopes "reports:read", "billing:read".',
    ]);
    expect(whole).toMatchObject({ data: { report: 'q3' }, messages: [] });
  });

  it('should allow any one of the outer list (OR)', async () => {
    for (const scope of ['customers:read', 'support:execute']) {
      const result = await run('{ customer { id } }', [scope, 'nodes:read']);

      expect(result).toMatchObject({ data: { customer: { id: 'c1' } }, messages: [] });
    }
  });

  it('should decide an OR of ANDs and say every alternative when it denies', async () => {
    const query = '{ customer { notes } }';
    const base = ['customers:read', 'nodes:read'];
    const denied = await run(query, [...base, 'crm:read']);

    expect(denied.data).toEqual({ customer: { notes: null } });
    expect(denied.errors?.[0]?.message).toBe(
      'Access to "Customer.notes" requires one of ("crm:read" and "crm.notes:read") or ("support:execute").',
    );
    expect(denied.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      required: {
        allOf: [],
        anyOf: [],
        anyOfSets: [['crm:read', 'crm.notes:read'], ['support:execute']],
        declaredOn: 'Customer.notes',
      },
    });
    expect((await run(query, [...base, 'crm:read', 'crm.notes:read'])).data).toEqual({
      customer: { notes: 'likes tea' },
    });
    expect((await run(query, [...base, 'support:execute'])).data).toEqual({
      customer: { notes: 'likes tea' },
    });
  });

  it('should AND @requiresScopes with @requires and interface requirements on the same field', async () => {
    const withoutRequires = await run('{ customer { notes } }', ['support:execute', 'nodes:read']);
    const withoutInterface = await run('{ customer { notes } }', [
      'support:execute',
      'customers:read',
    ]);

    expect(withoutRequires.data).toEqual({ customer: { notes: null } });
    expect(withoutRequires.messages).toEqual([
      'Access to "Customer.notes" requires scope "customers:read".',
    ]);
    expect(withoutInterface.data).toEqual({ customer: null });
    expect(withoutInterface.messages).toEqual([
      'Access to "Query.customer" requires scope "nodes:read".',
    ]);
  });

  it('should decide an OR of ANDs once per coordinate, however long the list', async () => {
    let clock = 0;
    const { typeDefs, transformer } = requiresDirective<Context>({
      ...options,
      now: () => {
        clock += 1;
        return 0;
      },
    });
    const schema = transformer(
      makeExecutableSchema({
        typeDefs: [
          typeDefs,
          /* GraphQL */ `
            type Item { secret: String @requiresScopes(scopes: [["a:read", "b:read"], ["c:read"]]) }
            type Query { items(n: Int!): [Item!]! @authenticated }
          `,
        ],
        resolvers: {
          Query: {
            items: (_: unknown, { n }: { n: number }) =>
              Array.from({ length: n }, () => ({ secret: 's' })),
          },
        },
      }),
    );
    const calls = async (n: number, scopes: string[]) => {
      clock = 0;
      const result = await run(`{ items(n: ${n}) { secret } }`, scopes, schema);
      return { clock, errors: result.errors?.length ?? 0 };
    };

    expect(await calls(500, ['a:read'])).toEqual({ ...(await calls(1, ['a:read'])), errors: 500 });
    expect(await calls(500, ['c:read'])).toEqual(await calls(1, ['c:read']));
  });

  it('should guard the fields of a type and every field returning it', async () => {
    const calls: string[] = [];
    const schema = build(calls);
    const query = await run('{ invoice { id amount } }', [], schema);
    const mutation = await run('mutation { payInvoice { id } }', [], schema);

    expect(query.data).toEqual({ invoice: null });
    expect(query.messages).toEqual(['Access to "Query.invoice" requires scope "billing:read".']);
    expect(mutation.data).toEqual({ payInvoice: null });
    expect(calls).toEqual([]);
    expect((await run('{ invoice { id amount } }', ['billing:read'], schema)).data).toEqual({
      invoice: { id: 'i1', amount: 12 },
    });
  });

  it('should guard every field returning a scalar or an enum that carries a requirement', async () => {
    const result = await graphql({
      schema: build(),
      source: '{ customer { id email tier } }',
      contextValue: { grants: ['customers:read', 'nodes:read'].map(grant), identityId: null },
    });

    expect(result.data).toEqual({ customer: { id: 'c1', email: null, tier: null } });
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions.code])).toEqual([
      ['customer.email', 'FORBIDDEN'],
      ['customer.tier', 'UNAUTHENTICATED'],
    ]);
  });

  it('should accept String or a custom scalar as the element type, declared by the graph', async () => {
    for (const declaration of [
      'directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT',
      'scalar Scope\ndirective @requiresScopes(scopes: [[Scope!]!]!) on FIELD_DEFINITION',
    ]) {
      const { typeDefs, transformer } = requiresDirective<Context>({ grants: (c) => c.grants });
      const schema = transformer(
        makeExecutableSchema({
          typeDefs: [
            typeDefs,
            declaration,
            'type Query { secret: String @requiresScopes(scopes: [["secrets:read"]]) }',
          ],
          resolvers: { Query: { secret: () => 'hunter2' } },
        }),
      );

      expect((await run('{ secret }', [], schema)).data).toEqual({ secret: null });
      expect((await run('{ secret }', ['secrets:read'], schema)).data).toEqual({
        secret: 'hunter2',
      });
    }
  });

  it('should read @requiresScopes under the name it is given', async () => {
    const { typeDefs, transformer } = requiresDirective<Context>({
      grants: (c) => c.grants,
      names: { requiresScopes: 'federation__requiresScopes' },
      compat: { requiresScopes: true, scopeType: 'String' },
    });
    const schema = transformer(
      makeExecutableSchema({
        typeDefs: [
          typeDefs,
          'type Query { secret: String @federation__requiresScopes(scopes: [["secrets:read"]]) }',
        ],
        resolvers: { Query: { secret: () => 'hunter2' } },
      }),
    );

    expect(typeDefs).not.toMatch(/scalar (?!RequiresProperties)/);
    expect((await run('{ secret }', [], schema)).data).toEqual({ secret: null });
  });

  it('should refuse a scope name that is not <resource>:<action>, naming where it is', () => {
    const sdl = 'type Query { a: Int @requiresScopes(scopes: [["orders:read"], ["admin"]]) }';

    expect(() => transform(sdl)).toThrow(InvalidRequirementError);
    expect(() => transform(sdl)).toThrow(
      '@requiresScopes on Query.a names "admin", which is not a scope: use <resource>:<action> with action read, write or execute.',
    );
  });

  it('should refuse empty lists rather than guess whether they mean nobody or anybody', () => {
    expect(() => transform('type Query { a: Int @requiresScopes(scopes: []) }')).toThrow(
      /@requiresScopes on Query\.a names no scope/,
    );
    expect(() =>
      transform('type Query { a: Int @requiresScopes(scopes: [["a:read"], []]) }'),
    ).toThrow(/@requiresScopes on Query\.a has an empty scope list/);
    expect(() =>
      transform(
        'type T @requiresScopes(scopes: [[]]) { a: Int } type Query { t: T @authenticated }',
      ),
    ).toThrow(/on type T has an empty scope list/);
  });

  it('should count @requiresScopes as guarding a root field', () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        requiresScopesTypeDefs,
        'type Query { a: Int @requiresScopes(scopes: [["a:read"]])  b: Int }',
      ],
    });

    expect(() => assertRootFieldsGuarded(schema)).toThrow(/unguarded root fields: Query\.b\./);
  });
});

import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { type RemoteGrants, type RequestConditions, requiresDirective } from '../../src/index.js';

/** What the orders service knows of one request: the caller's Keyholder API key, if any. */
export interface OrdersContext {
  readonly apiKey: string | null;
  /** What Keyholder grants' conditions see of this request (`conditionContextOf`). */
  readonly conditions?: RequestConditions;
}

/** One order; `ownerId` is a Keyholder identity id. */
export interface OrderRecord {
  readonly id: string;
  readonly item: string;
  readonly total: number;
  readonly ownerId: string;
}

/**
 * The orders service's SDL. `Identity` is a stub (its `id` only): a gateway merges it with
 * Keyholder's `Identity`.
 */
export const ordersTypeDefs = /* GraphQL */ `
  type Query {
    health: String!
    orders: [Order!] @requires(scope: "orders:read")
    order(id: ID!): Order @requires(scope: "orders:read", resource: "args.id")
    myOrders: [Order!] @authenticated
  }

  type Mutation {
    placeOrder(item: String!, total: Int!): Order! @requires(scope: "orders:write")
  }

  type Order {
    id: ID!
    item: String!
    total: Int @requires(scope: "billing:read")
    owner: Identity
  }

  type Identity {
    id: ID!
  }
`;

/**
 * The orders schema, `@requires` enforced against `remote` (a Keyholder server's grants), over
 * an in-memory list of orders (`placeOrder` appends `ord-<n>`, owned by the caller).
 */
export function createOrdersSchema(
  remote: RemoteGrants<OrdersContext>,
  orders: OrderRecord[] = [],
): GraphQLSchema {
  const { typeDefs, transformer } = requiresDirective<OrdersContext>({
    grants: remote.grants,
    principal: remote.principal,
    gate: remote.gate,
    // With `reportUsage`, the grants that allowed something are reported back to Keyholder.
    decisions: remote.decisions,
  });
  const resolvers = {
    Query: {
      health: () => 'ok',
      orders: () => orders,
      order: (_: unknown, args: { id: string }) => orders.find((o) => o.id === args.id) ?? null,
      myOrders: async (_: unknown, __: unknown, ctx: OrdersContext) => {
        const me = await remote.principal(ctx);
        return orders.filter((o) => o.ownerId === me);
      },
    },
    Mutation: {
      placeOrder: async (_: unknown, args: { item: string; total: number }, ctx: OrdersContext) => {
        const ownerId = await remote.principal(ctx);
        if (ownerId === null)
          throw new Error('Invariant violation: placeOrder ran without a caller.');
        const order = {
          id: `ord-${orders.length + 1}`,
          item: args.item,
          total: args.total,
          ownerId,
        };
        orders.push(order);
        return order;
      },
    },
    Order: { owner: (order: OrderRecord) => ({ id: order.ownerId }) },
  };
  return transformer(makeExecutableSchema({ typeDefs: [typeDefs, ordersTypeDefs], resolvers }));
}

import { makeExecutableSchema } from '@graphql-tools/schema';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  type ExecutionResult,
  type GraphQLSchema,
  graphql,
  parse,
  subscribe,
} from 'graphql';
import {
  type GrantLike,
  type RequiresDirectiveOptions,
  requiresDirective,
} from '../../../src/index.js';

/**
 * A small orders/inventory domain guarded with `@requires`, used by the directive specs.
 * - `Order` is guarded per instance (type-level `resource: "parent.id"`);
 * - `Product` is guarded by a scope for every instance, and through the `Stocked` interface by
 *   the warehouse it sits in; `Stocked.quantity` adds a scope of its own;
 * - `Customer.email` is readable by its owner (`orSelf`) or with `customers:read`;
 * - `Query.health` is the only field without any requirement.
 */
export const sampleTypeDefs = /* GraphQL */ `
  interface Node {
    id: ID!
  }

  interface Stocked @requires(scope: "inventory:read", resource: "parent.warehouse") {
    id: ID!
    warehouse: String
    quantity: Int @requires(scope: "inventory.counts:read")
  }

  enum OrderStatus {
    OPEN
    CANCELLED
  }

  type Order implements Node @requires(scope: "orders:read", resource: "parent.id") {
    id: ID!
    status: OrderStatus
    total: Int
    customer: Customer
    lines: [OrderLine!]!
    internalNote: String @requires(scope: "orders.notes:read")
    refundable: Boolean @requires(anyOf: ["billing:write", "support:execute"])
  }

  type OrderLine {
    quantity: Int!
    product: Product
    unitPrice: Int @requires(scope: "billing:read")
  }

  type Product implements Node & Stocked @requires(scope: "catalog:read") {
    id: ID!
    name: String
    warehouse: String
    quantity: Int
  }

  type Bundle implements Node & Stocked {
    id: ID!
    warehouse: String
    quantity: Int
    products: [Product!]!
  }

  type Customer implements Node {
    id: ID!
    name: String @authenticated
    email: String @requires(scope: "customers:read", orSelf: "parent.id")
  }

  type Query {
    health: String
    me: Customer @authenticated
    customer(id: ID!): Customer
      @requires(scope: "customers:read", resource: "args.id", orSelf: "args.id")
    order(id: ID!): Order @requires(scope: "orders:read", resource: "args.id")
    orders: [Order] @authenticated
    stock(id: ID!): Stocked @requires(scope: "catalog:read")
    revenue: Int @requires(allOf: ["orders:read", "billing:read"])
  }

  type Mutation {
    cancelOrder(id: ID!): Order @requires(scope: "orders:write", resource: "args.id")
    restock(id: ID!, quantity: Int!): Product
      @requires(anyOf: ["inventory:write", "warehouse:execute"])
    placeOrder(customerId: ID!, productId: ID!): Order
      @requires(allOf: ["orders:write", "billing:write"])
  }

  type Subscription {
    orderPlaced: Order @requires(scope: "orders:read")
  }
`;

export interface OrderRecord {
  id: string;
  status: 'OPEN' | 'CANCELLED';
  total: number;
  customerId: string;
  internalNote: string;
  refundable: boolean;
  lines: { quantity: number; productId: string; unitPrice: number }[];
}

export interface StockRecord {
  kind: 'Product' | 'Bundle';
  id: string;
  name: string;
  warehouse: string;
  quantity: number;
  productIds: string[];
}

export interface CustomerRecord {
  id: string;
  name: string;
  email: string;
}

/** The caller as the sample's `grants` and `principal` options read it. */
export interface SampleContext {
  readonly identityId: string | null;
  /** Mutable on purpose: a subscription's context outlives edits to its grants. */
  readonly grants: GrantLike[];
}

/** A hand-driven event source: `publish` queues an event, `events()` is the subscription source. */
export class Feed<T> {
  readonly #queue: T[] = [];
  readonly #waiting: ((value: T) => void)[] = [];
  /** How many events the source handed out, whoever consumed them. */
  delivered = 0;

  publish(event: T): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(event);
    else this.#queue.push(event);
  }

  async *events(): AsyncGenerator<T> {
    for (;;) {
      const queued = this.#queue.shift();
      const event =
        queued !== undefined ? queued : await new Promise<T>((r) => this.#waiting.push(r));
      this.delivered += 1;
      yield event;
    }
  }
}

export interface SampleStore {
  readonly customers: Map<string, CustomerRecord>;
  readonly orders: Map<string, OrderRecord>;
  readonly stock: Map<string, StockRecord>;
  /** Every side effect a mutation resolver had, in order. */
  readonly writes: string[];
  readonly orderFeed: Feed<{ orderPlaced: OrderRecord }>;
}

export interface SampleOptions {
  /** `'sync'` returns `context.grants`, `'async'` resolves to it; or give your own. @default 'sync' */
  readonly grants?: 'sync' | 'async' | RequiresDirectiveOptions<SampleContext>['grants'];
  readonly now?: () => number;
  /** How many orders the store holds beyond the three named ones (ids `bulk-<n>`). @default 0 */
  readonly extraOrders?: number;
  /** Where the directive reports its decisions. @default none */
  readonly decisions?: RequiresDirectiveOptions<SampleContext>['decisions'];
  /** The caller's id. @default `context.identityId`, synchronously */
  readonly principal?: RequiresDirectiveOptions<SampleContext>['principal'];
  /** Conditions on grants. @default none */
  readonly gate?: RequiresDirectiveOptions<SampleContext>['gate'];
}

export interface Sample {
  readonly schema: GraphQLSchema;
  readonly store: SampleStore;
  /** Resolver invocations by field coordinate (`Order.total`), default resolvers included. */
  readonly calls: Map<string, number>;
  /** How many times the directive called `options.grants`. */
  grantsCalls(): number;
  /** How many times the directive called `options.now`. */
  nowCalls(): number;
  /** Runs a query or mutation as `context`. */
  run(
    source: string,
    context: SampleContext,
    variables?: Record<string, unknown>,
  ): Promise<ExecutionResult>;
  /** Subscribes as `context`; the result is a stream or, when refused, a single result. */
  subscribe(
    source: string,
    context: SampleContext,
  ): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult>;
}

export const callerId = 'cus-ada';

/** A context for the caller `cus-ada` (or `identityId`) holding `grants`. */
export function caller(grants: GrantLike[], identityId: string | null = callerId): SampleContext {
  return { identityId, grants };
}

function seedStore(extraOrders: number): SampleStore {
  const customers = new Map<string, CustomerRecord>([
    ['cus-ada', { id: 'cus-ada', name: 'Ada', email: 'ada@example.com' }],
    ['cus-grace', { id: 'cus-grace', name: 'Grace', email: 'grace@example.com' }],
  ]);
  const order = (id: string, customerId: string, total: number): OrderRecord => ({
    id,
    status: 'OPEN',
    total,
    customerId,
    internalNote: `note on ${id}`,
    refundable: true,
    lines: [
      { quantity: 2, productId: 'apple', unitPrice: 30 },
      { quantity: 1, productId: 'pear', unitPrice: 40 },
    ],
  });
  const orders = new Map<string, OrderRecord>();
  for (const record of [
    order('eu-1', 'cus-ada', 100),
    order('eu-2', 'cus-grace', 200),
    order('us-1', 'cus-ada', 300),
  ]) {
    orders.set(record.id, record);
  }
  for (let n = 0; n < extraOrders; n += 1)
    orders.set(`bulk-${n}`, order(`bulk-${n}`, 'cus-grace', n));
  const stock = new Map<string, StockRecord>([
    [
      'apple',
      {
        kind: 'Product',
        id: 'apple',
        name: 'Apple',
        warehouse: 'wh-north-1',
        quantity: 50,
        productIds: [],
      },
    ],
    [
      'pear',
      {
        kind: 'Product',
        id: 'pear',
        name: 'Pear',
        warehouse: 'wh-south-1',
        quantity: 7,
        productIds: [],
      },
    ],
    [
      'fruit-box',
      {
        kind: 'Bundle',
        id: 'fruit-box',
        name: 'Fruit box',
        warehouse: 'wh-north-2',
        quantity: 3,
        productIds: ['apple', 'pear'],
      },
    ],
  ]);
  return { customers, orders, stock, writes: [], orderFeed: new Feed() };
}

function resolversFor(store: SampleStore) {
  return {
    Query: {
      health: () => 'ok',
      me: (_: unknown, __: unknown, context: SampleContext) =>
        context.identityId === null ? null : (store.customers.get(context.identityId) ?? null),
      customer: (_: unknown, args: { id: string }) => store.customers.get(args.id) ?? null,
      order: (_: unknown, args: { id: string }) => store.orders.get(args.id) ?? null,
      orders: () => [...store.orders.values()],
      stock: (_: unknown, args: { id: string }) => store.stock.get(args.id) ?? null,
      revenue: () => [...store.orders.values()].reduce((sum, o) => sum + o.total, 0),
    },
    Mutation: {
      cancelOrder: (_: unknown, args: { id: string }) => {
        const record = store.orders.get(args.id);
        if (record === undefined) return null;
        record.status = 'CANCELLED';
        store.writes.push(`cancelOrder ${args.id}`);
        return record;
      },
      restock: (_: unknown, args: { id: string; quantity: number }) => {
        const record = store.stock.get(args.id);
        if (record === undefined) return null;
        record.quantity += args.quantity;
        store.writes.push(`restock ${args.id}`);
        return record;
      },
      placeOrder: (_: unknown, args: { customerId: string; productId: string }) => {
        const record: OrderRecord = {
          id: `eu-${store.orders.size + 1}`,
          status: 'OPEN',
          total: 10,
          customerId: args.customerId,
          internalNote: '',
          refundable: false,
          lines: [{ quantity: 1, productId: args.productId, unitPrice: 10 }],
        };
        store.orders.set(record.id, record);
        store.writes.push(`placeOrder ${record.id}`);
        return record;
      },
    },
    Subscription: {
      orderPlaced: { subscribe: () => store.orderFeed.events() },
    },
    Order: {
      // Asynchronous on purpose, so concurrent operations interleave below it.
      customer: async (order: OrderRecord) => store.customers.get(order.customerId) ?? null,
    },
    OrderLine: {
      product: (line: { productId: string }) => store.stock.get(line.productId) ?? null,
    },
    Bundle: {
      products: (bundle: StockRecord) => bundle.productIds.map((id) => store.stock.get(id)),
    },
    Stocked: { __resolveType: (record: StockRecord) => record.kind },
  };
}

/**
 * Wraps every object field's resolver (default ones too) so `calls` counts its invocations.
 * Subscription fields count their `subscribe` instead and keep graphql-js's default `resolve`.
 */
function countResolvers(schema: GraphQLSchema, calls: Map<string, number>): GraphQLSchema {
  const count = (coordinate: string) => calls.set(coordinate, (calls.get(coordinate) ?? 0) + 1);
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      const coordinate = `${typeName}.${fieldName}`;
      const { subscribe } = fieldConfig;
      if (subscribe !== undefined) {
        return {
          ...fieldConfig,
          subscribe: (source, args, context, info) => {
            count(coordinate);
            return subscribe(source, args, context, info);
          },
        };
      }
      const resolve = fieldConfig.resolve ?? defaultFieldResolver;
      return {
        ...fieldConfig,
        resolve: (source, args, context, info) => {
          count(coordinate);
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

/** Builds the sample schema with its own store, counters and `requiresDirective` options. */
export function buildSample(options: SampleOptions = {}): Sample {
  const store = seedStore(options.extraOrders ?? 0);
  const calls = new Map<string, number>();
  let grantsCalls = 0;
  let nowCalls = 0;
  const mode = options.grants ?? 'sync';
  const loadGrants: RequiresDirectiveOptions<SampleContext>['grants'] =
    mode === 'sync'
      ? (context) => context.grants
      : mode === 'async'
        ? async (context) => context.grants
        : mode;
  const clock = options.now ?? Date.now;

  const { typeDefs, transformer } = requiresDirective<SampleContext>({
    grants: (context) => {
      grantsCalls += 1;
      return loadGrants(context);
    },
    principal: options.principal ?? ((context) => context.identityId),
    ...(options.decisions ? { decisions: options.decisions } : {}),
    ...(options.gate ? { gate: options.gate } : {}),
    now: () => {
      nowCalls += 1;
      return clock();
    },
  });
  const base = makeExecutableSchema({
    typeDefs: [typeDefs, sampleTypeDefs],
    resolvers: resolversFor(store),
  });
  const schema = transformer(countResolvers(base, calls));

  return {
    schema,
    store,
    calls,
    grantsCalls: () => grantsCalls,
    nowCalls: () => nowCalls,
    run: (source, context, variables) =>
      graphql({ schema, source, contextValue: context, variableValues: variables ?? null }),
    subscribe: (source, context) =>
      subscribe({ schema, document: parse(source), contextValue: context }) as Promise<
        AsyncGenerator<ExecutionResult> | ExecutionResult
      >,
  };
}

/** A grant as `options.grants` returns it. */
export function grant(
  scope: string,
  resource: string | null = null,
  expiresAt: GrantLike['expiresAt'] = null,
): GrantLike {
  return { scope, resource, expiresAt };
}

/** Every scope the sample schema names, each covering every instance. */
export function allScopes(): GrantLike[] {
  return [
    'orders:read',
    'orders:write',
    'orders.notes:read',
    'billing:read',
    'billing:write',
    'catalog:read',
    'inventory:read',
    'inventory:write',
    'inventory.counts:read',
    'customers:read',
  ].map((scope) => grant(scope));
}

/** The error whose path is `path`, or `undefined`. */
export function errorAt(result: ExecutionResult, path: readonly (string | number)[]) {
  return result.errors?.find((e) => JSON.stringify(e.path) === JSON.stringify(path));
}

/** Whether `subscribe()` gave a stream rather than a single (refusal) result. */
export function isStream(
  value: AsyncGenerator<ExecutionResult> | ExecutionResult,
): value is AsyncGenerator<ExecutionResult> {
  return Symbol.asyncIterator in value;
}

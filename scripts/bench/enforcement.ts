/**
 * What enforcing `@requires` costs on a large response, against plain graphql-js and two common
 * alternatives, all in one process on the same data and the same pre-parsed query.
 *
 * Workload: `{ orders { ...10 fields } }` returning 1,000 orders. `Query.orders` carries a
 * field-level `@requires(scope: "orders:read")` and `type Order` a type-level one, so every one of
 * the 10,000 order fields is guarded. Resolvers are graphql-js defaults (only `Query.orders` has
 * one); the caller holds `orders:read`, so nothing is denied.
 *
 * Run with `npm run build && npm run bench:enforcement` (options: `--rounds N`, `--iterations N`).
 */
import { performance } from 'node:perf_hooks';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  type DocumentNode,
  defaultFieldResolver,
  type ExecutionResult,
  execute,
  GraphQLError,
  type GraphQLSchema,
  parse,
  validate,
} from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { rule, shield } from 'graphql-shield';
import { type GrantLike, requiresDirective } from '../../src/index.js';

interface BenchContext {
  readonly grants: readonly GrantLike[];
}

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly schema: GraphQLSchema;
}

const FIELDS = [
  'id',
  'number',
  'status',
  'customer',
  'currency',
  'total',
  'tax',
  'items',
  'createdAt',
  'note',
];
const OBJECTS = 1_000;
const SCOPE = 'orders:read';

const sdl = /* GraphQL */ `
  type Order @requires(scope: "${SCOPE}") {
    id: ID!
    number: Int!
    status: String!
    customer: String!
    currency: String!
    total: Int!
    tax: Int!
    items: Int!
    createdAt: String!
    note: String
  }

  type Query {
    orders: [Order!]! @requires(scope: "${SCOPE}")
  }
`;

const query = parse(`{ orders { ${FIELDS.join(' ')} } }`);

const orders = Array.from({ length: OBJECTS }, (_, n) => ({
  id: `ord-${n}`,
  number: n,
  status: n % 7 === 0 ? 'CANCELLED' : 'OPEN',
  customer: `cus-${n % 97}`,
  currency: 'EUR',
  total: n * 3,
  tax: n,
  items: n % 5,
  createdAt: new Date(Date.UTC(2030, 0, 1) + n * 60_000).toISOString(),
  note: n % 2 === 0 ? null : `note ${n}`,
}));

const grants = (context: BenchContext): readonly GrantLike[] => context.grants;
const heldGrants: readonly GrantLike[] = [{ scope: 'orders.notes:read' }, { scope: SCOPE }];
/** A fresh context per operation, as servers make one per request. */
const newContext = (): BenchContext => ({ grants: heldGrants });

function buildVariants(): Variant[] {
  const { typeDefs, transformer } = requiresDirective<BenchContext>({ grants });
  const plain = makeExecutableSchema({
    typeDefs: [typeDefs, sdl],
    resolvers: { Query: { orders: () => orders } },
  });

  const canRead = rule({ cache: 'contextual' })((_parent, _args, context: BenchContext) =>
    context.grants.some((g) => g.scope === SCOPE && (g.resource ?? null) === null),
  );
  const permissions = shield(
    {
      Query: { orders: canRead },
      Order: Object.fromEntries(FIELDS.map((field) => [field, canRead])),
    },
    { allowExternalErrors: false },
  );

  return [
    { key: 'a', label: 'graphql-js execute, no enforcement', schema: plain },
    { key: 'b', label: 'requiresDirective transformer', schema: transformer(plain) },
    {
      key: 'c',
      label: 'graphql-shield 7 (contextual rule per field)',
      schema: applyMiddleware(plain, permissions),
    },
    { key: 'd', label: 'naive async resolver-wrapping directive', schema: naiveDirective(plain) },
  ];
}

/**
 * The common hand-written directive: every guarded field's resolver becomes an async function that
 * awaits the caller's grants (loaded once per context) and checks the scope before resolving.
 */
function naiveDirective(schema: GraphQLSchema): GraphQLSchema {
  const loaded = new WeakMap<object, Promise<readonly GrantLike[]>>();
  const load = (context: BenchContext) => {
    let promise = loaded.get(context);
    if (promise === undefined) {
      promise = Promise.resolve(grants(context));
      loaded.set(context, promise);
    }
    return promise;
  };
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      const guarded = typeName === 'Order' || (typeName === 'Query' && fieldName === 'orders');
      if (!guarded) return fieldConfig;
      const resolve = fieldConfig.resolve ?? defaultFieldResolver;
      return {
        ...fieldConfig,
        resolve: async (source, args, context: BenchContext, info) => {
          const held = await load(context);
          if (!held.some((g) => g.scope === SCOPE && (g.resource ?? null) === null)) {
            throw new GraphQLError(
              `Access to "${typeName}.${fieldName}" requires scope "${SCOPE}".`,
              {
                extensions: { code: 'FORBIDDEN' },
              },
            );
          }
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

async function runOnce(schema: GraphQLSchema, document: DocumentNode): Promise<ExecutionResult> {
  return await execute({ schema, document, contextValue: newContext() });
}

/** Mean milliseconds per operation over `iterations` back-to-back executions. */
async function timeBatch(variant: Variant, iterations: number): Promise<number> {
  globalThis.gc?.();
  const start = performance.now();
  for (let i = 0; i < iterations; i += 1) await runOnce(variant.schema, query);
  return (performance.now() - start) / iterations;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? undefined : Number(process.argv[index + 1]);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}

async function main(): Promise<void> {
  const rounds = option('rounds', 30);
  const iterations = option('iterations', 20);
  const variants = buildVariants();
  const baseline = variants[0] as Variant;

  const problems = validate(baseline.schema, query);
  if (problems.length > 0)
    throw new Error(`The benchmark query is invalid: ${problems[0]?.message}`);

  // Sanity: every variant returns exactly what plain graphql-js returns, with no errors.
  const expected = JSON.stringify(await runOnce(baseline.schema, query));
  const sameData = new Map<string, boolean>();
  for (const variant of variants) {
    const result = await runOnce(variant.schema, query);
    const rows = (result.data?.orders as unknown[] | undefined)?.length ?? 0;
    sameData.set(
      variant.key,
      JSON.stringify(result) === expected && result.errors === undefined && rows === OBJECTS,
    );
  }

  // Warm-up: let every variant's code reach the optimising compiler before measuring.
  for (const variant of variants) await timeBatch(variant, Math.max(50, iterations * 2));

  // Interleave: each round runs every variant once, in an order rotated from round to round.
  const perOp = new Map<string, number[]>(variants.map((v) => [v.key, []]));
  const ratios = new Map<string, number[]>(variants.map((v) => [v.key, []]));
  for (let round = 0; round < rounds; round += 1) {
    const times = new Map<string, number>();
    for (let i = 0; i < variants.length; i += 1) {
      const variant = variants[(round + i) % variants.length] as Variant;
      times.set(variant.key, await timeBatch(variant, iterations));
    }
    const base = times.get(baseline.key) as number;
    for (const [key, time] of times) {
      perOp.get(key)?.push(time);
      ratios.get(key)?.push(time / base);
    }
  }

  const cpus = (await import('node:os')).cpus();
  console.log(
    `@requires enforcement: ${OBJECTS} objects x ${FIELDS.length} guarded fields (type-level @requires on Order, field-level on Query.orders)`,
  );
  console.log(
    `node ${process.version}, NODE_ENV=${process.env.NODE_ENV ?? '(unset)'}, ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}; ${rounds} rounds x ${iterations} operations per variant, order rotated each round; gc between batches: ${typeof globalThis.gc === 'function' ? 'yes' : 'no (run with --expose-gc)'}`,
  );
  console.log('');
  const header = [
    'variant',
    'median ms/op',
    'p25..p75 ms/op',
    'x (a), median of rounds',
    'same data as (a)',
  ];
  const rows = variants.map((variant) => {
    const times = perOp.get(variant.key) as number[];
    const ratio = ratios.get(variant.key) as number[];
    return [
      `(${variant.key}) ${variant.label}`,
      median(times).toFixed(3),
      `${quantile(times, 0.25).toFixed(3)}..${quantile(times, 0.75).toFixed(3)}`,
      `${median(ratio).toFixed(2)}x`,
      sameData.get(variant.key) ? 'yes' : 'NO',
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join(' | ')} |`;
  console.log(line(header));
  console.log(
    `|${widths.map((w, column) => (column === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const row of rows) console.log(line(row));

  const ours = median(ratios.get('b') as number[]);
  console.log('');
  console.log(`target (b) <= 1.10x (a): ${ours <= 1.1 ? 'met' : 'NOT met'} (${ours.toFixed(2)}x)`);
  if ([...sameData.values()].some((same) => !same)) process.exitCode = 1;
}

await main();

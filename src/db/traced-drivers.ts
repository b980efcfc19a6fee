import type { PGlite, Transaction } from '@electric-sql/pglite';
import type postgres from 'postgres';
import { tracedStatement, tracingStatements } from '../telemetry/tracing.js';

/**
 * The postgres.js client drizzle is given: each statement it sends (`unsafe`, in a transaction or
 * a savepoint too) is a `keyholder.db.query` span (`tracedStatement`: the statement text, never
 * its parameters) when tracing is on and a request's span is active. When it is not, the
 * client's own query is returned untouched: one check per statement, nothing built.
 */
export function tracedPostgresClient<T extends postgres.Sql>(client: T): T {
  const unsafe = (text: string, params?: unknown[], options?: postgres.UnsafeQueryOptions) => {
    const pending = client.unsafe(text, params as postgres.ParameterOrJSON<never>[], options);
    return tracingStatements() ? tracedPending(text, pending) : pending;
  };
  // begin(callback) or begin(options, callback); savepoint(callback) or savepoint(name, callback).
  const withTracedClient =
    (method: 'begin' | 'savepoint') =>
    (...args: unknown[]) => {
      const last = args.length - 1;
      const callback = args[last] as (sql: postgres.Sql) => unknown;
      args[last] = (sql: postgres.Sql) => callback(tracedPostgresClient(sql));
      return (client[method as keyof T] as (...a: unknown[]) => unknown)(...args);
    };
  const begin = withTracedClient('begin');
  const savepoint = withTracedClient('savepoint');
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') return unsafe;
      if (property === 'begin') return begin;
      if (property === 'savepoint' && 'savepoint' in target) return savepoint;
      return Reflect.get(target, property, receiver);
    },
  });
}

/**
 * A postgres.js query awaited (drizzle's objects mode) or through `.values()` (its arrays mode)
 * inside the statement's span.
 */
function tracedPending(text: string, pending: ReturnType<postgres.Sql['unsafe']>): unknown {
  return {
    values: () => tracedStatement('postgresql', text, async () => pending.values()),
    // biome-ignore lint/suspicious/noThenProperty: drizzle awaits the query itself.
    then: (onFulfilled: (rows: unknown) => unknown, onRejected: (error: unknown) => unknown) =>
      tracedStatement('postgresql', text, async () => pending).then(onFulfilled, onRejected),
  };
}

/**
 * The PGlite client drizzle is given: each `query` (in a transaction too) is a `keyholder.db.query`
 * span on the same terms as `tracedPostgresClient`.
 */
export function tracedPglite(client: PGlite): PGlite {
  const query: PGlite['query'] = (text, params, options) =>
    tracedStatement('postgresql', text, () => client.query(text, params, options));
  const transaction: PGlite['transaction'] = (callback) =>
    client.transaction((tx) => callback(tracedTransaction(tx)));
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      if (property === 'transaction') return transaction;
      const value = Reflect.get(target, property, target);
      // PGlite's methods use private fields, which a proxy as `this` would not have.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function tracedTransaction(tx: Transaction): Transaction {
  const query: Transaction['query'] = (text, params, options) =>
    tracedStatement('postgresql', text, () => tx.query(text, params, options));
  return new Proxy(tx, {
    get: (target, property) =>
      property === 'query' ? query : Reflect.get(target, property, target),
  });
}

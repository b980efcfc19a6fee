import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { tracedStatement } from '../telemetry/tracing.js';
import * as tables from './tables.js';
import { tracedPglite, tracedPostgresClient } from './traced-drivers.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof tables>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The database, whichever engine serves it.
 * - `db`: drizzle, for everything expressed with the query builder;
 * - `query`: one raw statement (prepared on PostgreSQL), for the hot paths;
 * - `statements`: how many statements this process has sent, so tests can show that a request's
 *   statement count does not grow with the data it returns.
 * With tracing on, each statement of a traced request (`query`, `queryArrays`, and drizzle's through
 * `db`, transactions included) is a `keyholder.db.query` span: its text, never its parameters.
 */
export interface Database {
  readonly engine: 'pglite' | 'postgres';
  readonly db: Db;
  readonly statements: { count: number };
  query<T extends Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Like `query`, rows as arrays in column order: no object per row, for the hottest path. */
  queryArrays<T extends readonly unknown[]>(
    text: string,
    params?: readonly unknown[],
  ): Promise<T[]>;
  /**
   * LISTENs on `channel` (PostgreSQL: a dedicated connection shared by all listeners of this
   * process; PGlite: in-process). Resolves once listening; the result stops listening.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * LISTENs on `channel` on a connection of its own that is never re-established behind the
   * caller's back: when it breaks, `onLost` is called once (the notifications in between are lost
   * with it) and listening has stopped. Resolves once listening; the result stops listening.
   * PGlite listens in-process and is never lost.
   */
  watch(
    channel: string,
    onPayload: (payload: string) => void,
    onLost: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * What this process knows of committed changes without asking the database: the authentication
   * cache asks it before reading `revision_head`, `runChange` tells it what it committed.
   * `READ_THROUGH` until `startKeyholder` installs its `RevisionFeed`.
   */
  revisionSource: RevisionSource;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** See `Database.revisionSource` and src/modules/revision/revision-feed.ts. */
export interface RevisionSource {
  /**
   * The newest revision this process has applied, when it may answer from its caches without
   * reading `revision_head`; `null` when it may not (it must read).
   */
  known(): string | null;
  /**
   * A change committed at `revision`: resolves once every instance answering from its caches has
   * applied it. `change`, when the committing transaction read it, is its journal record.
   */
  committed(revision: string, change?: Change): Promise<void>;
  /**
   * Whether something read at revision `from` is still exactly current at `to`: this process
   * knows every change committed after `from` up to `to` (no gap), and none of them touched any
   * of `identities` or anything that is not an identity's own rows (see `Change`). `false`
   * whenever it cannot tell.
   */
  untouched(from: string, to: string, identities: ReadonlySet<string>): boolean;
  /**
   * Resolves once the changes this process has been told of are all read (what they touched
   * known to `untouched`): the live audit feed waits for it before re-checking its subscribers.
   */
  settled(): Promise<void>;
}

/**
 * One committed change as the change journal records it (drizzle/0021_change_journal.sql): the
 * revision it committed at, the revision it advanced from (nothing committed in between), and the
 * identities whose rows (identity, keys, direct grants) it touched, or `null` when it touched
 * anything else an authentication reads (groups, memberships, roles, scopes, a group's grants).
 */
export interface Change {
  readonly revision: string;
  readonly from: string;
  readonly touched: ReadonlySet<string> | null;
}

/** Knows nothing: every cached answer is checked against `revision_head`, nobody is waited for. */
export const READ_THROUGH: RevisionSource = {
  known: () => null,
  committed: async () => {},
  untouched: () => false,
  settled: async () => {},
};

export interface DatabaseConfig {
  /** A `postgres://` or `postgresql://` URL selects PostgreSQL; absent selects PGlite. */
  readonly databaseUrl?: string | undefined;
  /** PGlite's directory, or `memory://` for a throwaway database. */
  readonly dataDir: string;
  /** postgres.js pool size. @default 10 */
  readonly poolSize?: number;
  /**
   * PostgreSQL's `statement_timeout` and `idle_in_transaction_session_timeout` for every pooled
   * connection, in ms: a statement (lock waits included) or a forgotten transaction never holds a
   * request longer. @default 15000
   */
  readonly timeoutMs?: number;
  /**
   * PGlite only: the contents to start from, a `dumpDataDir()` tarball (in `memory://` or an empty
   * directory), instead of a new cluster; the specs start each server from one already migrated.
   */
  readonly pgliteContents?: Blob;
}

/**
 * Prepared, on the extended protocol even without parameters: postgres.js sends a parameterless
 * `unsafe` text as a simple query, parsed and planned again each time, unless told `simple:
 * false` (an option its `unsafe` reads but its types do not declare).
 */
const PREPARED = { prepare: true, simple: false } as postgres.UnsafeQueryOptions;

function countingLogger(statements: { count: number }): Logger {
  return {
    logQuery() {
      statements.count += 1;
    },
  };
}

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const statements = { count: 0 };
  const databaseUrl = config.databaseUrl;
  if (databaseUrl) {
    const client = postgres(databaseUrl, {
      max: config.poolSize ?? 10,
      onnotice: () => {},
      connect_timeout: 10,
      connection: {
        statement_timeout: config.timeoutMs ?? 15_000,
        idle_in_transaction_session_timeout: config.timeoutMs ?? 15_000,
      },
    });
    const db = drizzlePostgres(tracedPostgresClient(client), {
      schema: tables,
      logger: countingLogger(statements),
    }) as unknown as Db;
    const database: Database = {
      engine: 'postgres',
      db,
      statements,
      async query<T extends Record<string, unknown>>(
        text: string,
        params: readonly unknown[] = [],
      ) {
        statements.count += 1;
        return tracedStatement(
          'postgresql',
          text,
          async () =>
            (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
              prepare: true,
            })) as unknown as T[],
        );
      },
      async queryArrays<T extends readonly unknown[]>(
        text: string,
        params: readonly unknown[] = [],
      ) {
        statements.count += 1;
        return tracedStatement(
          'postgresql',
          text,
          async () =>
            (await client
              .unsafe(text, params as postgres.ParameterOrJSON<never>[], PREPARED)
              .values()) as unknown as T[],
        );
      },
      async listen(channel: string, onPayload: (payload: string) => void) {
        const { unlisten } = await client.listen(channel, onPayload);
        return unlisten;
      },
      async watch(channel: string, onPayload: (payload: string) => void, onLost: () => void) {
        let lost = false;
        const watcher = postgres(databaseUrl, {
          max: 1,
          idle_timeout: 0,
          max_lifetime: 0,
          fetch_types: false,
          onnotice: () => {},
          connect_timeout: 10,
          connection: { application_name: `keyholder ${process.pid} watch ${channel}` },
          onclose: () => {
            if (lost) return;
            lost = true;
            onLost();
            void watcher.end({ timeout: 0 });
          },
          // postgres.js delivers NotificationResponse to this option (not in its typings).
          ...({ onnotify: (_channel: string, payload: string) => onPayload(payload) } as object),
        });
        try {
          await watcher.unsafe(`listen "${channel.replaceAll('"', '""')}"`);
        } catch (error) {
          lost = true;
          await watcher.end({ timeout: 0 });
          throw error;
        }
        return async () => {
          lost = true;
          await watcher.end({ timeout: 1 });
        };
      },
      revisionSource: READ_THROUGH,
      async ping() {
        await client`select 1`;
      },
      async close() {
        database.revisionSource = READ_THROUGH;
        await client.end({ timeout: 5 });
      },
    };
    return database;
  }
  const client = await PGlite.create({
    dataDir: config.dataDir,
    ...(config.pgliteContents === undefined ? {} : { loadDataDir: config.pgliteContents }),
  });
  const db = drizzlePglite(tracedPglite(client), {
    schema: tables,
    logger: countingLogger(statements),
  }) as unknown as Db;
  const database: Database = {
    engine: 'pglite',
    db,
    statements,
    async query<T extends Record<string, unknown>>(text: string, params: readonly unknown[] = []) {
      statements.count += 1;
      return tracedStatement(
        'postgresql',
        text,
        async () => (await client.query<T>(text, params as unknown[])).rows,
      );
    },
    async queryArrays<T extends readonly unknown[]>(text: string, params: readonly unknown[] = []) {
      statements.count += 1;
      return tracedStatement(
        'postgresql',
        text,
        async () => (await client.query<T>(text, params as unknown[], { rowMode: 'array' })).rows,
      );
    },
    async listen(channel: string, onPayload: (payload: string) => void) {
      const stop = await client.listen(channel, onPayload);
      return () => stop();
    },
    async watch(channel: string, onPayload: (payload: string) => void) {
      const stop = await client.listen(channel, onPayload);
      return () => stop();
    },
    revisionSource: READ_THROUGH,
    async ping() {
      await client.query('select 1');
    },
    async close() {
      database.revisionSource = READ_THROUGH;
      await client.close();
    },
  };
  return database;
}

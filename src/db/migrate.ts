import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { packageRoot } from '../package-root.js';
import type { Database } from './client.js';

/** The `drizzle/` folder of this package. */
export function migrationsFolder(): string {
  return join(packageRoot(), 'drizzle');
}

const MIGRATION_LOCK = 7_291_004;

/** How many of this package's migrations the database has not applied (all, before the first). */
async function pendingMigrations(client: postgres.Sql, folder: string): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  let last = -1;
  try {
    const [row] = await client<{ last: string | null }[]>`
      select max(created_at)::text as last from drizzle.__drizzle_migrations`;
    last = Number(row?.last ?? -1);
  } catch {
    // No migrations table yet: everything is pending.
  }
  return migrations.filter((migration) => migration.folderMillis > last).length;
}

/**
 * Applies pending migrations. On PostgreSQL a session advisory lock on a dedicated connection
 * makes concurrent starts of several instances apply them once, and a database already up to
 * date is left untouched (no DDL at all), so Keyholder can run as a role that owns nothing and
 * cannot disable the audit log's triggers once the owner applied them (`keyholder migrate`,
 * docs/operations/postgresql.md, two roles).
 */
export async function runMigrations(database: Database, databaseUrl?: string): Promise<void> {
  const folder = migrationsFolder();
  if (database.engine === 'postgres' && databaseUrl) {
    const client = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
      const pending = await pendingMigrations(client, folder);
      if (pending > 0) {
        try {
          await migratePostgres(drizzlePostgres(client), { migrationsFolder: folder });
        } catch (error) {
          if ((error as { cause?: { code?: string } }).cause?.code === '42501') {
            throw new Error(
              `${pending} migrations are pending and this role may not apply them: run \`keyholder migrate\` with the owner's DATABASE_URL first.`,
              { cause: error },
            );
          }
          throw error;
        }
      }
      await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    } finally {
      await client.end({ timeout: 5 });
    }
    return;
  }
  await migratePglite(database.db as unknown as ReturnType<typeof drizzlePglite>, {
    migrationsFolder: folder,
  });
}

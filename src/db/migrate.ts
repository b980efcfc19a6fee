import { join } from 'node:path';
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

/**
 * Applies pending migrations. On PostgreSQL a session advisory lock on a dedicated connection
 * makes concurrent starts of several instances apply them once.
 */
export async function runMigrations(database: Database, databaseUrl?: string): Promise<void> {
  const folder = migrationsFolder();
  if (database.engine === 'postgres' && databaseUrl) {
    const client = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
      await migratePostgres(drizzlePostgres(client), { migrationsFolder: folder });
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

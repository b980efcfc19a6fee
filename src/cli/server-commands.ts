import type { Command } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';
import type { CommandRuntime } from './runtime.js';

/**
 * `serve` and `migrate`, the two commands that use the database directly (configured from the
 * environment, as `npm start`). The server modules load only when one of them runs, so client
 * commands start fast.
 */
export function registerServerCommands(program: Command, runtime: CommandRuntime): void {
  program
    .command('serve')
    .description('Run the server, as `npm start` does (configured by PORT, DATABASE_URL, …)')
    .action(async () => {
      const { serve } = await import('../main.js');
      await serve().catch((error: unknown) => {
        throw new CliError(
          ExitCode.SERVER_ERROR,
          `Keyholder failed to start: ${(error as Error).message}`,
        );
      });
    });

  program
    .command('migrate')
    .description(
      'Apply pending database migrations (DATABASE_URL, else PGlite in DATA_DIR) and exit',
    )
    .action(async (_options: unknown, command: Command) => {
      const { ConfigError, readConfig } = await import('../config.js');
      let config: ReturnType<typeof readConfig>;
      try {
        config = readConfig(runtime.env);
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(ExitCode.USAGE, error.message);
        throw error;
      }
      const { openDatabase } = await import('../db/client.js');
      const { runMigrations } = await import('../db/migrate.js');
      const database = await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
      });
      try {
        await runMigrations(database, config.databaseUrl);
      } catch (error) {
        throw new CliError(ExitCode.SERVER_ERROR, `Migrations failed: ${(error as Error).message}`);
      } finally {
        await database.close();
      }
      const where = config.databaseUrl ? 'PostgreSQL' : `PGlite in ${config.dataDir}`;
      runtime.print(
        command,
        { migrated: true, engine: database.engine },
        () => `Migrations applied (${where}).\n`,
      );
    });
}

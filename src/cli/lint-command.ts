import type { Command } from 'commander';
import type { Output } from './output.js';

/**
 * `lint`: the schema linter, with its own options, help and exit codes (0 no findings, 1
 * findings, 2 usage or schema errors) exactly as before the other commands existed. Its arguments
 * go to it untouched; `--json` there is `--format json`.
 */
export function registerLintCommand(program: Command, out: Output): void {
  program
    .command('lint')
    .description("Report a GraphQL schema's authorization coverage (see keyholder lint --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[], _options: unknown, command: Command) => {
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
      process.exitCode = await runLint(['lint', ...args, ...(json ? ['--json'] : [])], out);
    });
}

/**
 * Runs the linter (loaded only now: it brings graphql-js, which other commands never need).
 * `--json`, as on every command, is its `--format json`.
 */
export async function runLint(argv: readonly string[], out: Output): Promise<number> {
  const { runCommand } = await import('keyholder-directive/lint/run-lint-command.js');
  return runCommand(
    argv.flatMap((arg) => (arg === '--json' ? ['--format', 'json'] : [arg])),
    out,
  );
}

/** Whether `argv` runs `lint`: it is handed to the linter before the parser sees it. */
export function isLint(argv: readonly string[]): boolean {
  return argv[0] === 'lint';
}

import type { Command } from 'commander';
import { runCommand } from '../lint/run-lint-command.js';
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
    .action((args: string[]) => {
      process.exitCode = runCommand(['lint', ...args], out);
    });
}

/** Whether `argv` runs `lint`: it is handed to the linter before the parser sees it. */
export function isLint(argv: readonly string[]): boolean {
  return argv[0] === 'lint';
}

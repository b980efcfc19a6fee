import { Command, CommanderError, Option } from 'commander';
import { registerAuditCommands } from './audit-commands.js';
import { registerContextCommands } from './context-commands.js';
import { CliError, ExitCode } from './exit-codes.js';
import { registerGrantCommands } from './grant-commands.js';
import { registerIdentityCommands } from './identity-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { isLint, registerLintCommand, runLint } from './lint-command.js';
import type { Output } from './output.js';
import { registerRequestCommands } from './request-commands.js';
import { registerReviewCommands } from './review-commands.js';
import { createRuntime } from './runtime.js';
import { registerScopeCommands } from './scope-commands.js';
import { registerServerCommands } from './server-commands.js';
import { cliVersion, registerVersionCommand } from './version-command.js';

const EXIT_CODES = `
Exit codes:
  0  done (a check that answers "denied" included)
  1  Keyholder answered with an error (its message and code are printed), or could not be reached
  2  usage error: unknown command or option, missing argument, bad value
  3  unauthenticated or forbidden (no credential, a refused one, or a missing scope)

Credentials: --context NAME, else KEYHOLDER_URL and KEYHOLDER_TOKEN over the current context
(see "keyholder login"). Contexts live in $XDG_CONFIG_HOME/keyholder/config.json (mode 0600).
A DPoP-bound key needs its private key: KEYHOLDER_DPOP_KEY=FILE, or "login --dpop-key FILE".
`;

/** The `keyholder` command tree. */
export function buildProgram(out: Output, env: NodeJS.ProcessEnv): Command {
  const runtime = createRuntime(out, env);
  const program = new Command('keyholder')
    .description(
      'Keyholder: identities, scopes and grants over its GraphQL API, and the server itself',
    )
    .version(cliVersion(), '-V, --version', "print keyholder's version")
    .addOption(new Option('--json', 'print the raw data as JSON, for scripts'))
    .addOption(new Option('--context <name>', 'use this stored context (see keyholder login)'))
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', EXIT_CODES);
  registerServerCommands(program, runtime);
  registerVersionCommand(program, runtime);
  registerContextCommands(program, runtime);
  registerIdentityCommands(program, runtime);
  registerKeyCommands(program, runtime);
  registerScopeCommands(program, runtime);
  registerGrantCommands(program, runtime);
  registerRequestCommands(program, runtime);
  registerReviewCommands(program, runtime);
  registerAuditCommands(program, runtime);
  registerLintCommand(program, out);
  return program;
}

/**
 * Runs `keyholder <argv…>` and resolves to the exit code (see `ExitCode`): failures are one line
 * on stderr naming what was wrong (and the server's `extensions.code`), never a stack.
 */
export async function runCli(
  argv: readonly string[],
  out: Output,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (isLint(argv)) return runLint(argv, out);
  const program = buildProgram(out, env);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        return ExitCode.OK;
      }
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    if (error instanceof CliError) {
      out.stderr(
        `keyholder: ${error.message}${error.code === undefined ? '' : ` (${error.code})`}\n`,
      );
      return error.exitCode;
    }
    out.stderr(`keyholder: unexpected failure: ${(error as Error)?.message ?? String(error)}\n`);
    return ExitCode.SERVER_ERROR;
  }
}

/**
 * What `keyholder` exits with:
 * - `OK` (0): the command did what it says (a `check` that answers "denied" included);
 * - `SERVER_ERROR` (1): Keyholder answered with an error (its message and `extensions.code` are
 *   printed), could not be reached, or `audit verify` found a broken chain;
 * - `USAGE` (2): the command line is wrong (unknown command or option, missing argument, bad value);
 * - `DENIED` (3): unauthenticated (no credential, or one Keyholder refuses) or forbidden.
 */
export const ExitCode = {
  OK: 0,
  SERVER_ERROR: 1,
  USAGE: 2,
  DENIED: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports as one line on stderr (never a stack) and exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  /** The server's `extensions.code`, when the server said it. */
  readonly code: string | undefined;

  constructor(exitCode: ExitCode, message: string, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** A wrong command line: exit 2. */
export function usageError(message: string): CliError {
  return new CliError(ExitCode.USAGE, message);
}

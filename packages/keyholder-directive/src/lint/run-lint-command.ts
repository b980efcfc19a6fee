import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Source } from 'graphql';
import type { Finding } from './finding.js';
import { lintSchema } from './lint-schema.js';
import { SchemaLoadError } from './load-sdl.js';

/** Where the command writes. */
export interface CommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const LINT_USAGE = `Usage: keyholder lint [options] <file.graphql | directory>...

Reports authorization coverage of GraphQL SDL: fields with no requirement, object fields
declaring less than their interface, fields that can be denied but are non-null, malformed and
unknown scope names.

Options:
  --scopes <file>                 known scope names: a JSON array, or one per line (# comments)
  --allow-unguarded <Type.field>  public on purpose; repeat, or separate with commas
  --allow-non-null <Type.field>   never denied in practice (e.g. Query.me); repeat, or commas
  --format text|json              output format (default: text)
  -h, --help                      show this help

Exit codes: 0 no findings, 1 findings, 2 usage or schema errors.
`;

const COORDINATE = /^[_A-Za-z][_0-9A-Za-z]*\.[_A-Za-z][_0-9A-Za-z]*$/;
const SDL_FILE = /\.(graphql|gql)$/;

/** A problem with the command line or its files: exit code 2. */
class UsageError extends Error {}

function sdlFiles(path: string): string[] {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path);
  } catch {
    throw new UsageError(`Cannot read "${path}": no such file or directory.`);
  }
  if (!stats.isDirectory()) return [path];
  const files = readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((name) => SDL_FILE.test(name))
    .sort()
    .map((name) => join(path, name))
    .filter((file) => statSync(file).isFile());
  if (files.length === 0) throw new UsageError(`"${path}" holds no .graphql files.`);
  return files;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`Cannot read "${path}".`);
  }
}

/** A JSON array of names, or one name per line (blank lines and `#` comments skipped). */
function readScopes(path: string): string[] {
  const text = readText(path).trim();
  if (!text.startsWith('[')) {
    return text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--scopes file "${path}" is not valid JSON.`);
  }
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) {
    throw new UsageError(`--scopes file "${path}" must hold a JSON array of scope names.`);
  }
  return parsed;
}

function allowList(values: readonly string[], flag = '--allow-unguarded'): string[] {
  const coordinates = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const coordinate of coordinates) {
    if (!COORDINATE.test(coordinate)) {
      throw new UsageError(`${flag} "${coordinate}" is not a Type.field coordinate.`);
    }
  }
  return coordinates;
}

function formatText(findings: readonly Finding[], files: number): string {
  const lines = findings.map((f) => {
    const at = f.location ? `${f.location.file}:${f.location.line}:${f.location.column}` : '-';
    return `${at}  ${f.rule}  ${f.message}`;
  });
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.rule, (counts.get(f.rule) ?? 0) + 1);
  const summary =
    findings.length === 0
      ? `No findings in ${files} file${files === 1 ? '' : 's'}.`
      : `${findings.length} finding${findings.length === 1 ? '' : 's'} (${[...counts]
          .map(([rule, n]) => `${n} ${rule}`)
          .join(', ')}).`;
  return `${[...lines, summary].join('\n')}\n`;
}

function lint(args: readonly string[], out: CommandOutput): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      scopes: { type: 'string' },
      format: { type: 'string', default: 'text' },
      'allow-unguarded': { type: 'string', multiple: true, default: [] },
      'allow-non-null': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    out.stdout(LINT_USAGE);
    return 0;
  }
  if (values.format !== 'text' && values.format !== 'json') {
    throw new UsageError(`--format must be text or json, not "${values.format}".`);
  }
  if (positionals.length === 0) throw new UsageError('Give at least one SDL file or directory.');
  const files = [...new Set(positionals.flatMap(sdlFiles))];
  const sources = files.map((file) => new Source(readText(file), file));
  const findings = lintSchema(sources, {
    ...(values.scopes === undefined ? {} : { knownScopes: readScopes(values.scopes) }),
    allowUnguarded: allowList(values['allow-unguarded']),
    allowNonNull: allowList(values['allow-non-null'], '--allow-non-null'),
  });
  out.stdout(
    values.format === 'json'
      ? `${JSON.stringify({ findings }, null, 2)}\n`
      : formatText(findings, files.length),
  );
  return findings.length === 0 ? 0 : 1;
}

/**
 * Runs `keyholder <command> …` and returns the exit code.
 * - 0: no findings (or help); 1: findings; 2: a usage error, an unreadable file, or SDL that
 *   does not parse or build (the message names the file, line and column).
 */
export function runCommand(argv: readonly string[], out: CommandOutput): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? out.stderr : out.stdout)(LINT_USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command !== 'lint') throw new UsageError(`Unknown command "${command}".`);
    return lint(rest, out);
  } catch (error) {
    if (error instanceof SchemaLoadError) {
      const at = error.location
        ? `${error.location.file}:${error.location.line}:${error.location.column}: `
        : '';
      out.stderr(`keyholder lint: ${at}${error.message}\n`);
      return 2;
    }
    const parseArgsError =
      error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (error instanceof UsageError || parseArgsError) {
      out.stderr(
        `keyholder: ${(error as Error).message}\nRun "keyholder lint --help" for usage.\n`,
      );
      return 2;
    }
    throw error;
  }
}

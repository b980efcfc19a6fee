import type { Argument, Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/run-cli.js';

/** Where the reference is written, relative to the repository root. */
export const CLI_REFERENCE_PATH = 'docs/reference/cli.md';

const HEADER = `# CLI reference

<!-- Generated from src/cli/ by \`npm run docs:cli\`; edit the commands, not this file. -->

\`keyholder <command>\`: the server (\`serve\`, \`migrate\`), the schema linter (\`lint\`), and a
client of Keyholder's public GraphQL API for everything else: it reads and changes nothing but
what the API lets its credential read and change, and never opens the database. A tour:
[the CLI guide](../guides/cli.md).

Run it as \`npx keyholder\` in a clone (after \`npm ci\`, which builds it), or put it on your PATH with
\`npm link\` in the clone (the package depends on the workspace's \`keyholder-directive\`, not yet on
the registry, so a packed tarball does not install on its own).

## Credentials

- \`keyholder login --token <api key> [--url URL] [--name NAME]\` checks the key (it must
  authenticate) and stores URL and key as the context NAME (default \`default\`), which becomes the
  current one. Contexts live in \`$XDG_CONFIG_HOME/keyholder/config.json\` (\`~/.config\` when
  \`XDG_CONFIG_HOME\` is unset), the folder created 0700 and the file written 0600: only you can read
  the keys. \`--token-stdin\` reads the key from standard input, out of the shell's history.
- Each command uses \`--context NAME\` when given (that context only); otherwise \`KEYHOLDER_URL\` and
  \`KEYHOLDER_TOKEN\`, each over the current context's URL and key, so the environment alone is
  enough for CI. The URL defaults to \`http://127.0.0.1:4000\`.

## Output

People get tables (and \`key: value\` lines for one object); \`-\` is an empty value. \`--json\` on any
command prints the data Keyholder answered, as JSON, for scripts (\`jq\`): the object or the list
the command is about, or for paged lists the connection (\`nodes\`, \`pageInfo\`; pass
\`pageInfo.endCursor\` as \`--after\`). \`audit tail --json\` prints one event per line (JSON Lines).
Errors go to standard error as one line, \`keyholder: <message> (<extensions.code>)\`, never a stack.
A field inside the answer that the credential may not read (say \`who-can\`'s identity names without
\`identities:read\`) is null, with \`keyholder: warning: … (FORBIDDEN)\` on standard error; the rest is
printed and the command exits 0. \`serve\` prints the server's own log, \`--json\` or not.

## Exit codes

| code | meaning |
| --- | --- |
| 0 | done; a \`check\` that answers "denied" is done too (read \`allowed\` in \`--json\`) |
| 1 | Keyholder answered with an error (\`BAD_USER_INPUT\`, \`NOT_FOUND\`, \`CONFLICT\`, …: its message and code are printed), could not be reached, or \`audit verify\` found the chain broken |
| 2 | usage error: unknown command or option, missing argument or required option, a bad value (\`--kind ROBOT\`, \`--first many\`), an unknown context |
| 3 | unauthenticated (no credential, or one Keyholder refuses: unknown, expired, revoked, identity disabled) or forbidden (a scope the credential does not hold) |

\`lint\` keeps its own codes: 0 no findings, 1 findings, 2 usage or schema errors.

## Global options

Given before or after the command:

| option | meaning |
| --- | --- |
| \`--json\` | print the raw data as JSON |
| \`--context <name>\` | use this stored context |
| \`-V\`, \`--version\` | print the version |
| \`-h\`, \`--help\` | help of the program or of any command (\`keyholder grant --help\`) |

## Commands
`;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function argumentRows(args: readonly Argument[]): string {
  if (args.length === 0) return '';
  const rows = args.map(
    (a) => `| \`${a.required ? `<${a.name()}>` : `[${a.name()}]`}\` | ${cell(a.description)} |`,
  );
  return `\n| argument | meaning |\n| --- | --- |\n${rows.join('\n')}\n`;
}

function optionRows(options: readonly Option[]): string {
  const own = options.filter((o) => o.long !== '--help');
  if (own.length === 0) return '';
  const rows = own.map((o) => {
    const notes = [
      o.mandatory ? 'required' : null,
      o.defaultValue !== undefined && o.defaultValue !== false
        ? `default: \`${String(o.defaultValue)}\``
        : null,
    ].filter((n) => n !== null);
    return `| \`${o.flags}\` | ${cell(o.description)}${notes.length === 0 ? '' : ` (${notes.join(', ')})`} |`;
  });
  return `\n| option | meaning |\n| --- | --- |\n${rows.join('\n')}\n`;
}

function section(command: Command): string {
  const name = fullName(command);
  if (command.name() === 'lint') {
    return `\n### \`${name}\`\n\n${command.description()}. Its options, output and exit codes are in \`keyholder lint --help\` and the [lint guide](../guides/lint.md); \`--json\` is its \`--format json\`.\n`;
  }
  return [
    `\n### \`${name}\`\n\n${command.description()}.\n\n\`\`\`\n${name} ${command.usage()}\n\`\`\`\n`,
    argumentRows(command.registeredArguments),
    optionRows(command.options),
  ].join('');
}

function leaves(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leaves);
}

/** docs/reference/cli.md: the hand-written rules above, then every command from the program. */
export function renderCliReference(): string {
  const program = buildProgram({ stdout: () => {}, stderr: () => {} }, {});
  return `${HEADER}${leaves(program).map(section).join('')}`;
}

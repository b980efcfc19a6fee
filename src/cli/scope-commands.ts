import type { Command } from 'commander';
import { table } from './output.js';
import { type CommandRuntime, defined } from './runtime.js';

interface Scope {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly aliases: readonly string[];
}

const SCOPE = 'name description builtin aliases';

function scopeTable(scopes: readonly Scope[]): string {
  return table(
    ['name', 'builtin', 'aliases', 'description'],
    scopes.map((s) => [s.name, s.builtin, s.aliases, s.description]),
  );
}

function collect(value: string, previous: readonly string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}

/** `scope define|ls`. */
export function registerScopeCommands(program: Command, runtime: CommandRuntime): void {
  const scope = program
    .command('scope')
    .description('Define and list scopes (<resource>:<action>)');

  scope
    .command('define')
    .description('Define a scope; you receive a grantable grant of it')
    .argument('<name>', '<resource>:<action>, action read, write or execute')
    .option('--description <text>', 'what it allows')
    .option('--alias <name>', 'another name for it (repeat, or separate with commas)', collect)
    .action(
      async (
        name: string,
        options: { description?: string; alias?: string[] },
        command: Command,
      ) => {
        const input = defined({ name, description: options.description, aliases: options.alias });
        const data = await runtime
          .client(command)
          .request<{ defineScope: Scope }>(
            `mutation DefineScope($input: DefineScopeInput!) { defineScope(input: $input) { ${SCOPE} } }`,
            { input },
          );
        runtime.print(command, data.defineScope, (s) => scopeTable([s]));
      },
    );

  scope
    .command('ls')
    .description('List every scope, built-in ones included')
    .action(async (_options: unknown, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ scopes: Scope[] }>(`{ scopes { ${SCOPE} } }`);
      runtime.print(command, data.scopes, scopeTable);
    });
}

import type { Command } from 'commander';
import { CliError, ExitCode, usageError } from './exit-codes.js';
import { fields, table } from './output.js';
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

interface ScopePolicy {
  readonly maxTtlSeconds: number | null;
  readonly requiresApproval: boolean;
  readonly sensitive: boolean;
  readonly condition: string | null;
  readonly autoApprove: string | null;
}

interface PolicyOptions {
  readonly maxTtl?: string;
  readonly requiresApproval?: boolean;
  readonly sensitive?: boolean;
  readonly condition?: string;
  readonly autoApprove?: string;
}

const POLICY = 'maxTtlSeconds requiresApproval sensitive condition autoApprove';

/** `--max-ttl`: seconds, or `none` for no limit. */
function maxTtl(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  if (!/^\d+$/.test(value)) throw usageError(`--max-ttl must be seconds or none, not "${value}".`);
  return Number(value);
}

function policyFields(name: string, policy: ScopePolicy): string {
  return fields([
    ['scope', name],
    ['max ttl', policy.maxTtlSeconds === null ? 'none' : `${policy.maxTtlSeconds}s`],
    ['requires approval', policy.requiresApproval],
    ['sensitive', policy.sensitive],
    ['condition', policy.condition],
    ['auto-approve', policy.autoApprove],
  ]);
}

/** `scope define|ls|policy`. */
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

  scope
    .command('policy')
    .description("Show a scope's policy, or change it with the options given (others stay)")
    .argument('<scope>', 'the scope')
    .option('--max-ttl <seconds>', 'the longest grant allowed, or none for no limit')
    .option('--requires-approval', 'obtainable only through an approved access request')
    .option('--no-requires-approval', 'grantable directly again')
    .option('--sensitive', 'mark its grants and access events sensitive')
    .option('--no-sensitive', 'no longer sensitive')
    .option('--condition <cel>', 'a CEL condition every grant must also satisfy ("" removes it)')
    .option(
      '--auto-approve <cel>',
      'a CEL condition that approves requests at once ("" removes it)',
    )
    .action(async (name: string, options: PolicyOptions, command: Command) => {
      const client = runtime.client(command);
      const input = defined({
        maxTtlSeconds: maxTtl(options.maxTtl),
        requiresApproval: options.requiresApproval,
        sensitive: options.sensitive,
        condition: options.condition,
        autoApprove: options.autoApprove,
      });
      const scope =
        Object.keys(input).length === 0
          ? (
              await client.request<{ scope: { policy: ScopePolicy } | null }>(
                `query Policy($name: String!) { scope(name: $name) { policy { ${POLICY} } } }`,
                { name },
              )
            ).scope
          : (
              await client.request<{ setScopePolicy: { policy: ScopePolicy } }>(
                `mutation SetPolicy($name: String!, $input: ScopePolicyInput!) {
                  setScopePolicy(scope: $name, input: $input) { policy { ${POLICY} } } }`,
                { name, input },
              )
            ).setScopePolicy;
      if (scope === null) {
        throw new CliError(ExitCode.SERVER_ERROR, `Scope "${name}" is not defined.`, 'NOT_FOUND');
      }
      runtime.print(command, scope.policy, (policy) => policyFields(name, policy));
    });
}

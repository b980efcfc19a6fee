import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  type CliConfig,
  configPath,
  DEFAULT_URL,
  readCliConfig,
  writeCliConfig,
} from './contexts.js';
import { DpopSigner } from './dpop-signer.js';
import { usageError } from './exit-codes.js';
import { GraphQLClient } from './graphql-client.js';
import { fields, table } from './output.js';
import type { CommandRuntime } from './runtime.js';

interface Me {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly status: string;
}

const ME = 'query Me { me { id name kind status } }';

interface LoginOptions {
  readonly url?: string;
  readonly token?: string;
  readonly tokenStdin?: boolean;
  readonly name: string;
  readonly dpopKey?: string;
}

/** The contexts with the credential reduced to its visible prefix. */
function listed(config: CliConfig) {
  return Object.entries(config.contexts).map(([name, context]) => ({
    name,
    current: name === config.current,
    url: context.url,
    token: `${context.token.slice(0, 11)}…`,
  }));
}

/** `login`, `context ls|use|rm`, `whoami`: where the CLI talks to, and as whom. */
export function registerContextCommands(program: Command, runtime: CommandRuntime): void {
  program
    .command('login')
    .description('Check an API key against a Keyholder and store it as a named context (0600)')
    .option('--url <url>', `Keyholder's URL (default: KEYHOLDER_URL, else ${DEFAULT_URL})`)
    .option('--token <key>', 'the API key (default: KEYHOLDER_TOKEN)')
    .option('--token-stdin', 'read the API key from standard input (keeps it out of history)')
    .option('--name <context>', 'the context to store it as', 'default')
    .option(
      '--dpop-key <file>',
      'prove possession of this private JWK on every request (a DPoP-bound key)',
    )
    .action(async (options: LoginOptions, command: Command) => {
      const url = (options.url ?? runtime.env.KEYHOLDER_URL ?? DEFAULT_URL).replace(/\/+$/, '');
      if (!/^https?:\/\/[^/]/.test(url))
        throw usageError(`--url must be an http(s) URL, not "${url}".`);
      const token = (
        options.tokenStdin
          ? readFileSync(0, 'utf8')
          : (options.token ?? runtime.env.KEYHOLDER_TOKEN ?? '')
      ).trim();
      if (token === '') {
        throw usageError('Give the API key with --token, --token-stdin or KEYHOLDER_TOKEN.');
      }
      const dpopKey = options.dpopKey === undefined ? undefined : resolve(options.dpopKey);
      const signer = dpopKey === undefined ? undefined : await DpopSigner.fromFile(dpopKey);
      const { me } = await new GraphQLClient(
        url,
        token,
        undefined,
        signer === undefined ? undefined : async () => signer,
      ).request<{ me: Me }>(ME);
      const config = readCliConfig(configPath(runtime.env));
      const path = configPath(runtime.env);
      writeCliConfig(
        {
          current: options.name,
          contexts: {
            ...config.contexts,
            [options.name]: { url, token, ...(dpopKey === undefined ? {} : { dpopKey }) },
          },
        },
        path,
      );
      runtime.print(
        command,
        { context: options.name, url, identity: me, path },
        () =>
          `Logged in to ${url} as ${me.name} (${me.id}); context "${options.name}" saved in ${path}.\n`,
      );
    });

  const context = program
    .command('context')
    .description('List, switch and remove the stored contexts (URL + API key)');
  context
    .command('ls')
    .description('List the stored contexts (keys shown by prefix only)')
    .action((_options: unknown, command: Command) => {
      const rows = listed(readCliConfig(configPath(runtime.env)));
      runtime.print(command, rows, () =>
        table(
          ['current', 'name', 'url', 'token'],
          rows.map((r) => [r.current ? '*' : '', r.name, r.url, r.token]),
        ),
      );
    });
  context
    .command('use')
    .description('Make a stored context the one commands use')
    .argument('<name>', 'a context stored by login')
    .action((name: string, _options: unknown, command: Command) => {
      const path = configPath(runtime.env);
      const config = readCliConfig(path);
      if (config.contexts[name] === undefined) {
        throw usageError(
          `No context named "${name}" (known: ${Object.keys(config.contexts).join(', ') || 'none'}).`,
        );
      }
      writeCliConfig({ ...config, current: name }, path);
      runtime.print(command, { current: name }, () => `Using context "${name}".\n`);
    });
  context
    .command('rm')
    .description('Forget a stored context and its API key')
    .argument('<name>', 'a stored context')
    .action((name: string, _options: unknown, command: Command) => {
      const path = configPath(runtime.env);
      const config = readCliConfig(path);
      if (config.contexts[name] === undefined) throw usageError(`No context named "${name}".`);
      const { [name]: _removed, ...contexts } = config.contexts;
      writeCliConfig({ current: config.current === name ? null : config.current, contexts }, path);
      runtime.print(command, { removed: name }, () => `Removed context "${name}".\n`);
    });

  program
    .command('whoami')
    .description('Show the identity the current credential authenticates as')
    .action(async (_options: unknown, command: Command) => {
      const client = runtime.client(command);
      const { context } = runtime.target(command);
      const { me } = await client.request<{ me: Me }>(ME);
      runtime.print(command, me, () =>
        fields([
          ['id', me.id],
          ['name', me.name],
          ['kind', me.kind],
          ['status', me.status],
          ['url', client.url],
          ['context', context ?? 'none (KEYHOLDER_URL and KEYHOLDER_TOKEN)'],
        ]),
      );
    });
}

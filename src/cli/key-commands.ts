import type { Command } from 'commander';
import { fields, table } from './output.js';
import { type CommandRuntime, defined, integer } from './runtime.js';

interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly active: boolean;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

const API_KEY = 'id name prefix active expiresAt revokedAt';

/** `key create|revoke`. */
export function registerKeyCommands(program: Command, runtime: CommandRuntime): void {
  const key = program.command('key').description('Create and revoke API keys');

  key
    .command('create')
    .description('Create an API key for an identity; the secret is printed this once')
    .argument('<identity-id>', 'the identity the key authenticates as')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--ttl <seconds>', 'lifetime in seconds (default: no expiry)', integer('--ttl'))
    .action(
      async (identityId: string, options: { name: string; ttl?: number }, command: Command) => {
        const input = defined({ identityId, name: options.name, ttlSeconds: options.ttl });
        const data = await runtime.client(command).request<{
          createApiKey: { secret: string; apiKey: ApiKey };
        }>(
          `mutation CreateApiKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${API_KEY} } } }`,
          { input },
        );
        runtime.print(
          command,
          data.createApiKey,
          ({ secret, apiKey }) =>
            `${fields([
              ['id', apiKey.id],
              ['name', apiKey.name],
              ['expires', apiKey.expiresAt ?? 'never'],
              ['secret', secret],
            ])}The secret is shown this once: store it now.\n`,
        );
      },
    );

  key
    .command('revoke')
    .description('Revoke an API key: requests that start after this returns are refused')
    .argument('<key-id>', 'the key (its id, not its secret)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ revokeApiKey: ApiKey }>(
          `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { ${API_KEY} } }`,
          { id },
        );
      runtime.print(command, data.revokeApiKey, (k) =>
        table(['id', 'name', 'prefix', 'revoked'], [[k.id, k.name, k.prefix, k.revokedAt]]),
      );
    });
}

import type { Command } from 'commander';
import { DpopSigner } from './dpop-signer.js';
import { usageError } from './exit-codes.js';
import { fields, table } from './output.js';
import { type CommandRuntime, defined, integer } from './runtime.js';

interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly active: boolean;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly scopes: readonly { readonly scope: string; readonly resource: string | null }[] | null;
  readonly jkt: string | null;
}

const API_KEY = 'id name prefix active expiresAt revokedAt scopes { scope resource } jkt';

/** `--scope s[=resource]`, repeatable: the key's scope entries in the order given. */
function collectScope(
  value: string,
  previous: { scope: string; resource?: string }[] = [],
): { scope: string; resource?: string }[] {
  const mark = value.indexOf('=');
  return [
    ...previous,
    mark === -1
      ? { scope: value }
      : { scope: value.slice(0, mark), resource: value.slice(mark + 1) },
  ];
}

/** A key's scopes as one line: `every scope its identity holds`, or `a:read, b:read=eu-*`. */
function describeScopes(scopes: ApiKey['scopes']): string {
  if (scopes === null) return 'everything its identity holds';
  if (scopes.length === 0) return 'none';
  return scopes.map((s) => (s.resource === null ? s.scope : `${s.scope}=${s.resource}`)).join(', ');
}

/** `key create|revoke`. */
export function registerKeyCommands(program: Command, runtime: CommandRuntime): void {
  const key = program.command('key').description('Create and revoke API keys');

  key
    .command('create')
    .description('Create an API key for an identity; the secret is printed this once')
    .argument('<identity-id>', 'the identity the key authenticates as')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--ttl <seconds>', 'lifetime in seconds (default: no expiry)', integer('--ttl'))
    .option(
      '--scope <scope[=resource]>',
      'the most the key may act with, repeatable (resource: an id, or a prefix ending in *)',
      collectScope,
    )
    .option('--jkt <thumbprint>', 'bind the key to a DPoP key (its JWK SHA-256 thumbprint)')
    .option(
      '--dpop-key <file>',
      'bind the key to the DPoP key in this JWK file (see dpop-key create)',
    )
    .action(
      async (
        identityId: string,
        options: {
          name: string;
          ttl?: number;
          scope?: { scope: string; resource?: string }[];
          jkt?: string;
          dpopKey?: string;
        },
        command: Command,
      ) => {
        const input = defined({
          identityId,
          name: options.name,
          ttlSeconds: options.ttl,
          scopes: options.scope,
          jkt:
            options.dpopKey === undefined
              ? options.jkt
              : await (await DpopSigner.fromFile(options.dpopKey)).thumbprint(),
        });
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
              ['scopes', describeScopes(apiKey.scopes)],
              ...(apiKey.jkt === null ? [] : [['bound to', apiKey.jkt] as [string, string]]),
              ['secret', secret],
            ])}The secret is shown this once: store it now.\n`,
        );
      },
    );

  program
    .command('dpop-key')
    .description('Make DPoP keys: a bound API key is useless without its private key')
    .command('create')
    .description('Write a new P-256 private key (JWK, mode 0600) and print its thumbprint')
    .argument('<file>', 'where to write it (must not exist)')
    .action(async (file: string, _options: unknown, command: Command) => {
      let signer: DpopSigner;
      try {
        signer = await DpopSigner.create(file);
      } catch (error) {
        throw usageError(`Cannot write ${file}: ${(error as Error).message}`);
      }
      const jkt = await signer.thumbprint();
      runtime.print(
        command,
        { file, jkt },
        () =>
          `${fields([
            ['file', file],
            ['jkt', jkt],
          ])}Bind a key to it with "keyholder key create <identity> --name … --dpop-key ${file}".\n`,
      );
    });

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

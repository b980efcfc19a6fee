import type { Command } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';
import { fields, nextPageHint, type Page, table } from './output.js';
import { type CommandRuntime, defined, integer, oneOf } from './runtime.js';

interface Identity {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly externalId: string | null;
  readonly status: string;
  readonly createdAt: string;
}

interface IdentityDetail extends Identity {
  readonly owner: { readonly id: string; readonly name: string } | null;
  readonly grants: readonly {
    readonly id: string;
    readonly scope: { readonly name: string } | null;
    readonly role: { readonly name: string } | null;
    readonly resource: string | null;
    readonly expiresAt: string | null;
  }[];
  readonly apiKeys: readonly {
    readonly id: string;
    readonly name: string;
    readonly prefix: string;
    readonly active: boolean;
    readonly expiresAt: string | null;
  }[];
}

const IDENTITY = 'id kind name externalId status createdAt';
const KINDS = ['USER', 'SERVICE', 'AGENT'];

/** One identity as `identity create|disable|enable` print it. */
function identityRow(identity: Identity): string {
  return table(
    ['id', 'kind', 'name', 'status'],
    [[identity.id, identity.kind, identity.name, identity.status]],
  );
}

/** `identity create|ls|show|disable|enable`. */
export function registerIdentityCommands(program: Command, runtime: CommandRuntime): void {
  const identity = program
    .command('identity')
    .description('Create, list, show, disable and enable identities (users, services, agents)');

  identity
    .command('create')
    .description('Create an identity; it holds nothing until granted')
    .argument('<name>', 'its name')
    .option('--kind <kind>', 'USER, SERVICE or AGENT', oneOf('--kind', KINDS), 'USER')
    .option('--external-id <id>', 'its id in your identity provider')
    .option('--owner <identity-id>', 'SERVICE and AGENT: who answers for it (default: you)')
    .action(
      async (
        name: string,
        options: { kind: string; externalId?: string; owner?: string },
        command: Command,
      ) => {
        const input = defined({
          name,
          kind: options.kind,
          externalId: options.externalId,
          ownerId: options.owner,
        });
        const data = await runtime
          .client(command)
          .request<{ createIdentity: Identity }>(
            `mutation CreateIdentity($input: CreateIdentityInput!) { createIdentity(input: $input) { ${IDENTITY} } }`,
            { input },
          );
        runtime.print(command, data.createIdentity, identityRow);
      },
    );

  identity
    .command('ls')
    .description('List identities, a page at a time')
    .option('--kind <kind>', 'only USER, SERVICE or AGENT', oneOf('--kind', KINDS))
    .option(
      '--status <status>',
      'only ACTIVE or DISABLED',
      oneOf('--status', ['ACTIVE', 'DISABLED']),
    )
    .option('--name <text>', 'only names containing this (case-insensitive)')
    .option('--external-id <id>', 'only this external id')
    .option('--first <n>', 'page size', integer('--first'), 50)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      async (
        options: {
          kind?: string;
          status?: string;
          name?: string;
          externalId?: string;
          first: number;
          after?: string;
        },
        command: Command,
      ) => {
        const filter = defined({
          kind: options.kind,
          status: options.status,
          nameContains: options.name,
          externalId: options.externalId,
        });
        const data = await runtime.client(command).request<{ identities: Page<Identity> }>(
          `query Identities($first: Int, $after: String, $filter: IdentityFilter) {
            identities(first: $first, after: $after, filter: $filter) { nodes { ${IDENTITY} } pageInfo { hasNextPage endCursor } }
          }`,
          { first: options.first, after: options.after ?? null, filter },
        );
        runtime.print(
          command,
          data.identities,
          (page) =>
            table(
              ['id', 'kind', 'name', 'status', 'external id', 'created'],
              page.nodes.map((i) => [i.id, i.kind, i.name, i.status, i.externalId, i.createdAt]),
            ) + nextPageHint(page),
        );
      },
    );

  identity
    .command('show')
    .description('Show an identity with its live grants and its API keys')
    .argument('<identity-id>', 'the identity')
    .action(async (id: string, _options: unknown, command: Command) => {
      const data = await runtime.client(command).request<{ identity: IdentityDetail | null }>(
        `query Identity($id: ID!) { identity(id: $id) { ${IDENTITY} owner { id name }
          grants { id scope { name } role { name } resource expiresAt }
          apiKeys { id name prefix active expiresAt } } }`,
        { id },
      );
      if (data.identity === null) {
        throw new CliError(ExitCode.SERVER_ERROR, `Identity "${id}" does not exist.`, 'NOT_FOUND');
      }
      runtime.print(command, data.identity, (i) =>
        [
          fields([
            ['id', i.id],
            ['name', i.name],
            ['kind', i.kind],
            ['status', i.status],
            ['external id', i.externalId],
            ['owner', i.owner === null ? null : `${i.owner.name} (${i.owner.id})`],
            ['created', i.createdAt],
          ]),
          '\nGrants:\n',
          table(
            ['id', 'scope', 'resource', 'expires'],
            (i.grants ?? []).map((g) => [
              g.id,
              g.scope?.name ?? `role ${g.role?.name}`,
              g.resource ?? '*',
              g.expiresAt,
            ]),
          ),
          '\nAPI keys:\n',
          table(
            ['id', 'name', 'prefix', 'active', 'expires'],
            (i.apiKeys ?? []).map((k) => [k.id, k.name, k.prefix, k.active, k.expiresAt]),
          ),
        ].join(''),
      );
    });

  identity
    .command('disable')
    .description('Disable an identity: its keys stop authenticating on the next request')
    .argument('<identity-id>', 'the identity')
    .action(async (id: string, _options: unknown, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ disableIdentity: Identity }>(
          `mutation Disable($id: ID!) { disableIdentity(id: $id) { ${IDENTITY} } }`,
          { id },
        );
      runtime.print(command, data.disableIdentity, identityRow);
    });

  identity
    .command('enable')
    .description('Re-enable a disabled identity (its keys stay revoked)')
    .argument('<identity-id>', 'the identity')
    .requiredOption('--reason <text>', 'why, recorded in the audit log')
    .action(async (id: string, options: { reason: string }, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ enableIdentity: Identity }>(
          `mutation Enable($id: ID!, $reason: String!) { enableIdentity(id: $id, reason: $reason) { ${IDENTITY} } }`,
          { id, reason: options.reason },
        );
      runtime.print(command, data.enableIdentity, identityRow);
    });
}

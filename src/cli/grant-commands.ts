import type { Command } from 'commander';
import { usageError } from './exit-codes.js';
import { cell, fields, nextPageHint, table } from './output.js';
import { type CommandRuntime, defined, integer } from './runtime.js';

interface Grant {
  readonly id: string;
  readonly identity: { readonly id: string; readonly name: string } | null;
  readonly group: { readonly id: string; readonly name: string } | null;
  readonly scope: { readonly name: string } | null;
  readonly role: { readonly name: string } | null;
  readonly resource: string | null;
  readonly reason: string;
  readonly grantable: boolean;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly active: boolean;
}

interface GrantPath {
  readonly role: string | null;
  readonly groups: readonly string[];
  readonly expiresAt: string | null;
}

interface Decision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly identityId: string;
  readonly scope: string;
  readonly resource: string | null;
  readonly decidedAt: string;
  readonly revision: string;
  readonly grant: { readonly id: string } | null;
  readonly path: GrantPath | null;
  readonly conditions: readonly {
    readonly source: string;
    readonly expression: string;
    readonly result: string;
    readonly error: string | null;
    readonly values: unknown;
  }[];
}

const GRANT =
  'id identity { id name } group { id name } scope { name } role { name } resource reason grantable expiresAt revokedAt active';

function holder(grant: Grant): string {
  if (grant.identity !== null) return grant.identity.name;
  if (grant.group !== null) return `group ${grant.group.name}`;
  return '-';
}

function grantTable(grants: readonly Grant[]): string {
  return table(
    ['id', 'holder', 'scope', 'resource', 'expires', 'active'],
    grants.map((g) => [
      g.id,
      holder(g),
      g.scope?.name ?? `role ${g.role?.name ?? '?'}`,
      g.resource ?? '*',
      g.expiresAt ?? 'never',
      g.active,
    ]),
  );
}

/** How a holder holds a grant, in words: `directly`, `role r through groups a > b`. */
function pathText(path: GrantPath | null): string {
  if (path === null) return '-';
  const parts = [
    path.role === null ? null : `role ${path.role}`,
    path.groups.length === 0 ? null : `through ${path.groups.join(' > ')}`,
  ].filter((p) => p !== null);
  return parts.length === 0 ? 'directly' : parts.join(' ');
}

/** `grant`, `revoke`, `check`, `who-can`, `effective`: the grants and the decisions they make. */
export function registerGrantCommands(program: Command, runtime: CommandRuntime): void {
  program
    .command('grant')
    .description('Grant a scope (or a role) to an identity (or a group)')
    .argument('<holder-id>', 'the identity (or, with --group, the group) to hold it')
    .argument('<scope>', 'the scope (or, with --role, the role) to grant')
    .requiredOption('--reason <text>', 'why, recorded in the audit log')
    .option('--resource <id>', 'one resource id, or a prefix ending in * (default: every resource)')
    .option('--ttl <seconds>', 'lifetime in seconds', integer('--ttl'))
    .option('--expires-at <instant>', 'expiry, an ISO 8601 instant (instead of --ttl)')
    .option('--grantable', 'the holder may grant it on', false)
    .option('--condition <cel>', 'a CEL condition the grant authorizes under')
    .option('--group', '<holder-id> is a group', false)
    .option('--role', '<scope> names a role', false)
    .action(
      async (
        holderId: string,
        scope: string,
        options: {
          reason: string;
          resource?: string;
          ttl?: number;
          expiresAt?: string;
          grantable: boolean;
          condition?: string;
          group: boolean;
          role: boolean;
        },
        command: Command,
      ) => {
        if (options.ttl !== undefined && options.expiresAt !== undefined) {
          throw usageError('Give --ttl or --expires-at, not both.');
        }
        const input = defined({
          [options.group ? 'groupId' : 'identityId']: holderId,
          [options.role ? 'role' : 'scope']: scope,
          resource: options.resource,
          reason: options.reason,
          ttlSeconds: options.ttl,
          expiresAt: options.expiresAt,
          grantable: options.grantable,
          condition: options.condition,
        });
        const data = await runtime
          .client(command)
          .request<{ grant: Grant }>(
            `mutation Grant($input: GrantInput!) { grant(input: $input) { ${GRANT} } }`,
            { input },
          );
        runtime.print(command, data.grant, (g) => grantTable([g]));
      },
    );

  program
    .command('revoke')
    .description('Revoke a grant: requests that start after this returns are denied')
    .argument('<grant-id>', 'the grant')
    .requiredOption('--reason <text>', 'why, recorded in the audit log')
    .option('--cascade', 'also revoke what rested on it, transitively')
    .option('--no-cascade', "only this grant, whatever the scope's policy says")
    .action(
      async (id: string, options: { reason: string; cascade?: boolean }, command: Command) => {
        const data = await runtime
          .client(command)
          .request<{ revokeGrant: Grant }>(
            `mutation Revoke($id: ID!, $reason: String!, $cascade: Boolean) { revokeGrant(id: $id, reason: $reason, cascade: $cascade) { ${GRANT} } }`,
            { id, reason: options.reason, cascade: options.cascade ?? null },
          );
        runtime.print(command, data.revokeGrant, (g) =>
          table(
            ['id', 'holder', 'scope', 'revoked'],
            [[g.id, holder(g), g.scope?.name ?? g.role?.name, g.revokedAt]],
          ),
        );
      },
    );

  program
    .command('check')
    .description('Decide whether an identity may use a scope (on a resource) now')
    .argument('<identity-id>', 'the identity asked about')
    .argument('<scope>', 'the scope')
    .option('--resource <id>', 'the resource (default: every resource)')
    .option('--explain', 'also print why: the grant, how it is held, conditions evaluated', false)
    .action(
      async (
        identityId: string,
        scope: string,
        options: { resource?: string; explain: boolean },
        command: Command,
      ) => {
        const data = await runtime.client(command).request<{ check: Decision }>(
          `query Check($identityId: ID!, $scope: String!, $resource: String) {
            check(identityId: $identityId, scope: $scope, resource: $resource) {
              allowed reason identityId scope resource decidedAt revision grant { id }
              path { role groups expiresAt }
              conditions { source expression result error values }
            }
          }`,
          { identityId, scope, resource: options.resource ?? null },
        );
        runtime.print(command, data.check, (d) => {
          const verdict = `${d.allowed ? 'allowed' : 'denied'}\n`;
          if (!options.explain) return verdict;
          return (
            verdict +
            fields([
              ['reason', d.reason],
              ['grant', d.grant?.id],
              ['path', d.allowed ? pathText(d.path) : null],
              ['expires', d.path?.expiresAt ?? (d.allowed ? 'never' : null)],
              ['revision', d.revision],
              ['decided at', d.decidedAt],
            ]) +
            d.conditions
              .map(
                (c) =>
                  `condition (${c.source}) ${c.expression}: ${c.result}${c.error === null ? '' : ` (${c.error})`} ${cell(c.values)}\n`,
              )
              .join('')
          );
        });
      },
    );

  program
    .command('who-can')
    .description('List every active identity that can use a scope (on a resource) now, and how')
    .argument('<scope>', 'the scope')
    .option('--resource <id>', 'the resource (default: every resource)')
    .option('--first <n>', 'page size (at most 500)', integer('--first'), 50)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      async (
        scope: string,
        options: { resource?: string; first: number; after?: string },
        command: Command,
      ) => {
        const data = await runtime.client(command).request<{
          whoCan: {
            nodes: {
              identityId: string;
              identity: { name: string } | null;
              grant: { id: string } | null;
              path: GrantPath;
              expiresAt: string | null;
            }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        }>(
          `query WhoCan($scope: String!, $resource: String, $first: Int, $after: String) {
            whoCan(scope: $scope, resource: $resource, first: $first, after: $after) {
              nodes { identityId identity { name } grant { id } path { role groups expiresAt } expiresAt }
              pageInfo { hasNextPage endCursor }
            }
          }`,
          {
            scope,
            resource: options.resource ?? null,
            first: options.first,
            after: options.after ?? null,
          },
        );
        runtime.print(
          command,
          data.whoCan,
          (page) =>
            table(
              ['identity', 'name', 'grant', 'how', 'until'],
              page.nodes.map((h) => [
                h.identityId,
                h.identity?.name,
                h.grant?.id,
                pathText(h.path),
                h.expiresAt ?? 'never',
              ]),
            ) + nextPageHint(page),
        );
      },
    );

  program
    .command('effective')
    .description('List what an identity can use now, merged from its grants, groups and roles')
    .argument('[identity-id]', 'the identity (default: you)')
    .action(async (identityId: string | undefined, _options: unknown, command: Command) => {
      const client = runtime.client(command);
      const id =
        identityId ?? (await client.request<{ me: { id: string } }>('{ me { id } }')).me.id;
      const data = await client.request<{
        effectivePermissions: {
          scope: string;
          resource: string | null;
          expiresAt: string | null;
          grantable: boolean;
          paths: GrantPath[];
        }[];
      }>(
        `query Effective($id: ID!) { effectivePermissions(identityId: $id) {
          scope resource expiresAt grantable paths { role groups expiresAt } } }`,
        { id },
      );
      runtime.print(command, data.effectivePermissions, (permissions) =>
        table(
          ['scope', 'resource', 'grantable', 'until', 'how'],
          permissions.map((p) => [
            p.scope,
            p.resource ?? '*',
            p.grantable,
            p.expiresAt ?? 'never',
            p.paths.map(pathText).join('; '),
          ]),
        ),
      );
    });
}

import type { Command } from 'commander';
import { table } from './output.js';
import { type CommandRuntime, defined, integer, oneOf } from './runtime.js';

interface AccessRequest {
  readonly id: string;
  readonly requesterId: string;
  readonly identityId: string;
  readonly scope: { readonly name: string } | null;
  readonly group: { readonly name: string } | null;
  readonly resource: string | null;
  readonly ttlSeconds: number;
  readonly reason: string;
  readonly status: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decisionReason: string | null;
  readonly grant: { readonly id: string } | null;
}

const REQUEST =
  'id requesterId identityId scope { name } group { name } resource ttlSeconds reason status createdAt expiresAt decisionReason grant { id }';
const STATUSES = ['PENDING', 'APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED'];

function requestTable(requests: readonly AccessRequest[]): string {
  return table(
    ['id', 'status', 'for', 'scope', 'resource', 'ttl', 'reason', 'grant'],
    requests.map((r) => [
      r.id,
      r.status,
      r.identityId,
      r.scope?.name ?? (r.group === null ? null : `group ${r.group.name}`),
      r.resource ?? '*',
      `${r.ttlSeconds}s`,
      r.reason,
      r.grant?.id,
    ]),
  );
}

/** `request create|ls|approve|deny`: just-in-time access. */
export function registerRequestCommands(program: Command, runtime: CommandRuntime): void {
  const request = program
    .command('request')
    .description('Ask for temporary access, and approve or deny what others ask');

  request
    .command('create')
    .description('Ask for a temporary grant of a scope (for you, or an identity you own)')
    .argument('<scope>', 'the scope asked for')
    .requiredOption('--ttl <seconds>', 'how long the grant lasts once approved', integer('--ttl'))
    .requiredOption('--reason <text>', 'why, shown to approvers and recorded')
    .option('--resource <id>', 'one resource id, or a prefix ending in * (default: every resource)')
    .option('--for <identity-id>', 'an identity you own (default: you)')
    .action(
      async (
        scope: string,
        options: { ttl: number; reason: string; resource?: string; for?: string },
        command: Command,
      ) => {
        const input = defined({
          scope,
          ttlSeconds: options.ttl,
          reason: options.reason,
          resource: options.resource,
          identityId: options.for,
        });
        const data = await runtime
          .client(command)
          .request<{ requestAccess: AccessRequest }>(
            `mutation RequestAccess($input: RequestAccessInput!) { requestAccess(input: $input) { ${REQUEST} } }`,
            { input },
          );
        runtime.print(command, data.requestAccess, (r) => requestTable([r]));
      },
    );

  request
    .command('ls')
    .description('List your requests (and those for identities you own), or those awaiting you')
    .option('--awaiting', 'pending requests you could decide instead', false)
    .option(
      '--status <status>',
      `only ${STATUSES.join(', ')} (your requests)`,
      oneOf('--status', STATUSES),
    )
    .action(async (options: { awaiting: boolean; status?: string }, command: Command) => {
      const client = runtime.client(command);
      const requests = options.awaiting
        ? (
            await client.request<{ accessRequestsAwaitingMyApproval: AccessRequest[] }>(
              `{ accessRequestsAwaitingMyApproval { ${REQUEST} } }`,
            )
          ).accessRequestsAwaitingMyApproval
        : (
            await client.request<{ myAccessRequests: AccessRequest[] }>(
              `query Mine($status: AccessRequestStatus) { myAccessRequests(status: $status) { ${REQUEST} } }`,
              { status: options.status ?? null },
            )
          ).myAccessRequests;
      runtime.print(command, requests, requestTable);
    });

  request
    .command('approve')
    .description("Approve another identity's pending request; its grant is created")
    .argument('<request-id>', 'the request')
    .option('--reason <text>', 'a note recorded with the approval')
    .action(async (id: string, options: { reason?: string }, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ approveAccessRequest: AccessRequest }>(
          `mutation Approve($id: ID!, $reason: String) { approveAccessRequest(id: $id, reason: $reason) { ${REQUEST} } }`,
          { id, reason: options.reason ?? null },
        );
      runtime.print(command, data.approveAccessRequest, (r) => requestTable([r]));
    });

  request
    .command('deny')
    .description("Deny another identity's pending request")
    .argument('<request-id>', 'the request')
    .requiredOption('--reason <text>', 'why, shown to the requester')
    .action(async (id: string, options: { reason: string }, command: Command) => {
      const data = await runtime
        .client(command)
        .request<{ denyAccessRequest: AccessRequest }>(
          `mutation Deny($id: ID!, $reason: String!) { denyAccessRequest(id: $id, reason: $reason) { ${REQUEST} } }`,
          { id, reason: options.reason },
        );
      runtime.print(command, data.denyAccessRequest, (r) => requestTable([r]));
    });
}

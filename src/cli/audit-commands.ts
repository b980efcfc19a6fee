import type { Command } from 'commander';
import type { FormattedExecutionResult } from 'graphql-ws';
import { CliError, ExitCode } from './exit-codes.js';
import { errorFromGraphQL, type GraphQLClient } from './graphql-client.js';
import { cell, fields, nextPageHint, table } from './output.js';
import { type CommandRuntime, defined, integer, oneOf } from './runtime.js';

interface AuditEvent {
  readonly id: string;
  readonly seq: string;
  readonly at: string;
  readonly action: string;
  readonly actorId: string | null;
  readonly subjectId: string | null;
  readonly details: unknown;
}

interface FilterOptions {
  readonly action?: string;
  readonly actor?: string;
  readonly subject?: string;
  readonly scope?: string;
  readonly decision?: string;
  readonly from?: string;
  readonly to?: string;
}

const EVENT = 'id seq at action actorId subjectId details';
const COLUMNS = ['seq', 'at', 'action', 'actor', 'subject', 'details'];

/** Details as one line, cut at 80 characters (`--json` has them whole). */
function summary(details: unknown): string {
  const text = cell(details);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function row(e: AuditEvent): unknown[] {
  return [e.seq, e.at, e.action, e.actorId, e.subjectId, summary(e.details)];
}

/** The search and subscription filters, as options of `audit search` and `audit tail`. */
function withFilters(command: Command): Command {
  return command
    .option('--action <action>', 'an exact action (grant.created), or a prefix ending in . or *')
    .option('--actor <identity-id>', 'events by this identity')
    .option('--subject <id>', 'events about this id')
    .option('--scope <scope>', 'events that concern this scope')
    .option(
      '--decision <decision>',
      'access events: ALLOWED or DENIED',
      oneOf('--decision', ['ALLOWED', 'DENIED']),
    )
    .option('--from <instant>', 'at or after this ISO 8601 instant')
    .option('--to <instant>', 'before this ISO 8601 instant');
}

function filterOf(options: FilterOptions): Record<string, unknown> {
  return defined({
    action: options.action,
    actorId: options.actor,
    subjectId: options.subject,
    scope: options.scope,
    decision: options.decision,
    from: options.from,
    to: options.to,
  });
}

async function search(
  client: GraphQLClient,
  filter: Record<string, unknown>,
  first: number,
  after: string | null,
) {
  const data = await client.request<{
    auditEvents: {
      nodes: AuditEvent[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  }>(
    `query Audit($first: Int, $after: String, $filter: AuditFilter) {
      auditEvents(first: $first, after: $after, filter: $filter) { nodes { ${EVENT} } pageInfo { hasNextPage endCursor } }
    }`,
    { first, after, filter },
  );
  return data.auditEvents;
}

/**
 * Prints live events passing `filter` until the server ends the stream (FORBIDDEN when the grant
 * is lost: exit 3) or the process is interrupted. `ready` runs once the subscription is live.
 */
async function follow(
  client: GraphQLClient,
  filter: Record<string, unknown>,
  onEvent: (event: AuditEvent) => void,
  ready: () => Promise<void>,
): Promise<void> {
  const { createClient } = await import('graphql-ws');
  const { default: WebSocket } = await import('ws');
  const ws = createClient({
    url: client.webSocketUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${client.token}` },
    retryAttempts: 0,
    lazy: false,
  });
  return new Promise<void>((resolve, reject) => {
    let started = false;
    const fail = (error: CliError) => {
      void ws.dispose();
      reject(error);
    };
    ws.on('connected', () => {
      if (started) return;
      started = true;
      ready().catch(fail);
    });
    ws.on('closed', (event) => {
      const { code, reason } = event as { code?: number; reason?: string };
      if (code === 4401 || code === 4403) {
        fail(
          new CliError(
            ExitCode.DENIED,
            reason || 'The live audit feed refused the credential.',
            code === 4401 ? 'UNAUTHENTICATED' : 'FORBIDDEN',
          ),
        );
      } else if (code !== 1000) {
        fail(
          new CliError(
            ExitCode.SERVER_ERROR,
            `The live audit feed closed (${code ?? '?'}${reason ? `: ${reason}` : ''}).`,
          ),
        );
      }
    });
    ws.subscribe<{ auditEvents: AuditEvent }>(
      {
        query: `subscription Tail($filter: AuditFilter) { auditEvents(filter: $filter) { ${EVENT} } }`,
        variables: { filter },
      },
      {
        next: (result: FormattedExecutionResult<{ auditEvents: AuditEvent }>) => {
          const [error] = result.errors ?? [];
          if (error !== undefined) fail(errorFromGraphQL(error));
          else if (result.data?.auditEvents) onEvent(result.data.auditEvents);
        },
        error: (error) => {
          if (Array.isArray(error) && error[0]) fail(errorFromGraphQL(error[0]));
          else if (error instanceof Error)
            fail(
              new CliError(ExitCode.SERVER_ERROR, `The live audit feed failed: ${error.message}`),
            );
        },
        complete: () => {
          void ws.dispose();
          resolve();
        },
      },
    );
    const stop = () => {
      void ws.dispose();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** `audit search|verify|tail`. */
export function registerAuditCommands(program: Command, runtime: CommandRuntime): void {
  const audit = program.command('audit').description('Search, verify and follow the audit log');

  withFilters(
    audit.command('search').description('Search the audit log, newest first, a page at a time'),
  )
    .option('--first <n>', 'page size', integer('--first'), 50)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      async (options: FilterOptions & { first: number; after?: string }, command: Command) => {
        const page = await search(
          runtime.client(command),
          filterOf(options),
          options.first,
          options.after ?? null,
        );
        runtime.print(command, page, (p) => table(COLUMNS, p.nodes.map(row)) + nextPageHint(p));
      },
    );

  audit
    .command('verify')
    .description("Recompute every entry's hash and link; exit 1 when the chain is broken")
    .action(async (_options: unknown, command: Command) => {
      const data = await runtime.client(command).request<{
        verifyAuditLog: {
          ok: boolean;
          checked: number;
          firstBrokenId: string | null;
          reason: string | null;
          lastSeq: string | null;
          lastHash: string | null;
        };
      }>('{ verifyAuditLog { ok checked firstBrokenId reason lastSeq lastHash } }');
      const v = data.verifyAuditLog;
      runtime.print(command, v, () =>
        fields([
          ['ok', v.ok],
          ['checked', v.checked],
          ['first broken', v.firstBrokenId],
          ['reason', v.reason],
          ['last seq', v.lastSeq],
          ['last hash', v.lastHash],
        ]),
      );
      if (!v.ok) {
        throw new CliError(
          ExitCode.SERVER_ERROR,
          `The audit chain is broken at entry ${v.firstBrokenId}: ${v.reason}`,
        );
      }
    });

  withFilters(
    audit
      .command('tail')
      .description('Print the latest events, then (with --follow) new ones live over graphql-ws'),
  )
    .option(
      '-n, --lines <n>',
      'how many of the latest events to print first',
      integer('--lines'),
      10,
    )
    .option('-f, --follow', 'keep printing events as they are committed, until interrupted', false)
    .action(
      async (options: FilterOptions & { lines: number; follow: boolean }, command: Command) => {
        const client = runtime.client(command);
        const filter = filterOf(options);
        const asJson = runtime.wantsJson(command);
        // --json prints one event per line (JSON Lines), so a pipe can read them as they come.
        const print = (event: AuditEvent) =>
          runtime.out.stdout(
            asJson ? `${JSON.stringify(event)}\n` : `${row(event).map(cell).join('  ')}\n`,
          );
        const latest = async () => {
          const page =
            options.lines === 0 ? { nodes: [] } : await search(client, filter, options.lines, null);
          return [...page.nodes].reverse();
        };
        if (!options.follow) {
          for (const event of await latest()) print(event);
          return;
        }
        // Subscribe, then read the backlog once connected; seq drops what both deliver.
        let lastSeq = -1n;
        const buffered: AuditEvent[] = [];
        let live = false;
        const emit = (event: AuditEvent) => {
          if (BigInt(event.seq) <= lastSeq) return;
          lastSeq = BigInt(event.seq);
          print(event);
        };
        await follow(
          client,
          filter,
          (event) => (live ? emit(event) : buffered.push(event)),
          async () => {
            for (const event of await latest()) emit(event);
            for (const event of buffered) emit(event);
            live = true;
          },
        );
      },
    );
}

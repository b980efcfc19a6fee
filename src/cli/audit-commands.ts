import type { Command } from 'commander';
import type { FormattedExecutionResult } from 'graphql-ws';
import type { CheckpointFile } from '../modules/audit/audit-checkpoints.js';
import { hmacKeyring } from '../modules/audit/audit-keys.js';
import {
  type AuditJwks,
  checkpointSignatureValid,
  type ExportLine,
  readCheckpointDir,
  verifyExport,
} from './audit-offline.js';
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

const VERIFICATION = `ok checked walked firstBrokenId reason lastSeq lastHash problem mode verifiedFrom
  checkpoint { seq signedAt } missingEvents missingFromSeq missingToSeq unrecorded { table id }`;

interface Verification {
  readonly ok: boolean;
  readonly checked: number;
  readonly walked: number;
  readonly firstBrokenId: string | null;
  readonly reason: string | null;
  readonly lastSeq: string | null;
  readonly lastHash: string | null;
  readonly problem: string | null;
  readonly mode: string;
  readonly verifiedFrom: string;
  readonly checkpoint: { readonly seq: string; readonly signedAt: string } | null;
  readonly missingEvents: number;
  readonly missingFromSeq: string | null;
  readonly missingToSeq: string | null;
  readonly unrecorded: readonly { readonly table: string; readonly id: string }[];
}

interface ChainEntryOut {
  readonly seq: string;
  readonly [field: string]: unknown;
}

/** The checkpoint signing keys: from `file` (a JWK Set pinned by the auditor), else the server's. */
async function keysOf(url: string, file: string | undefined): Promise<AuditJwks> {
  try {
    if (file !== undefined) {
      const { readFile } = await import('node:fs/promises');
      return JSON.parse(await readFile(file, 'utf8')) as AuditJwks;
    }
    const response = await fetch(`${url}/.well-known/keyholder-audit-keys`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as AuditJwks;
  } catch (error) {
    throw new CliError(
      ExitCode.SERVER_ERROR,
      `Cannot read the audit signing keys from ${file ?? `${url}/.well-known/keyholder-audit-keys`}: ${(error as Error).message}`,
    );
  }
}

/** Starts a full re-verification and polls it (progress on stderr) until it ends. */
async function fullVerification(
  runtime: CommandRuntime,
  command: Command,
  client: GraphQLClient,
): Promise<Verification> {
  const RUN = `id status checked total error result { ${VERIFICATION} }`;
  interface Run {
    id: string;
    status: string;
    checked: number;
    total: number;
    error: string | null;
    result: Verification | null;
  }
  let run = (
    await client.request<{ startAuditVerification: Run }>(
      `mutation { startAuditVerification { ${RUN} } }`,
    )
  ).startAuditVerification;
  const quiet = runtime.wantsJson(command);
  while (run.status === 'RUNNING') {
    if (!quiet) runtime.out.stderr(`verified ${run.checked} of ${run.total}\n`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const polled = (
      await client.request<{ auditVerificationRun: Run | null }>(
        `{ auditVerificationRun { ${RUN} } }`,
      )
    ).auditVerificationRun;
    if (polled === null || polled.id !== run.id) {
      throw new CliError(
        ExitCode.SERVER_ERROR,
        'Another Keyholder instance answered: a full verification runs on the instance that started it. Point KEYHOLDER_URL at one instance.',
      );
    }
    run = polled;
  }
  if (run.status === 'FAILED' || run.result === null) {
    throw new CliError(
      ExitCode.SERVER_ERROR,
      `The full verification failed: ${run.error ?? 'no result'}`,
    );
  }
  return run.result;
}

/** `audit verify --file`: an export verified offline. */
async function verifyFile(
  runtime: CommandRuntime,
  command: Command,
  path: string,
  keysFile: string | undefined,
  checkpointDir: string | undefined,
): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  let lines: ExportLine[];
  try {
    lines = (await readFile(path, 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ExportLine);
  } catch (error) {
    throw new CliError(
      ExitCode.USAGE,
      `Cannot read the export ${path}: ${(error as Error).message}`,
    );
  }
  const header = lines[0];
  if (header?.type !== 'keyholder-audit-export') {
    throw new CliError(ExitCode.USAGE, `${path} is not a Keyholder audit export.`);
  }
  let jwks: AuditJwks = header.keys;
  if (keysFile !== undefined) jwks = JSON.parse(await readFile(keysFile, 'utf8')) as AuditJwks;
  if (checkpointDir !== undefined) {
    for (const { text } of await readCheckpointDir(checkpointDir)) {
      lines.push({ type: 'checkpoint', ...(JSON.parse(text) as CheckpointFile) });
    }
  }
  const texts = [
    process.env.AUDIT_HMAC_KEY,
    ...(process.env.AUDIT_HMAC_PREVIOUS_KEYS ?? '').split(','),
  ]
    .map((k) => k?.trim() ?? '')
    .filter((k) => k !== '');
  const v = verifyExport(lines, jwks, texts.length === 0 ? null : hmacKeyring(texts));
  runtime.print(command, v, () =>
    fields([
      ['ok', v.ok],
      ['checked', v.checked],
      ['checkpoints', v.checkpoints],
      ['seals checked', v.sealsChecked],
      ['reason', v.reason],
      ['last seq', v.lastSeq],
    ]),
  );
  if (!v.ok) throw new CliError(ExitCode.SERVER_ERROR, `The export does not verify: ${v.reason}`);
}
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

/** `audit search|verify|export|tail`. */
export function registerAuditCommands(program: Command, runtime: CommandRuntime): void {
  const audit = program
    .command('audit')
    .description('Search, verify, export and follow the audit log');

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
    .description(
      'Verify the audit chain (incrementally, or --full); exit 1 when it is broken or shortened',
    )
    .option('--full', 're-verify the whole chain in the background and follow its progress', false)
    .option(
      '--checkpoints <dir>',
      'also check the chain against the signed checkpoint files in this directory',
    )
    .option(
      '--keys <file>',
      'the JWK Set that signs checkpoints (default: the server publishes it)',
    )
    .option(
      '--file <export>',
      'verify an export (keyholder audit export) offline, without a server; seals too with AUDIT_HMAC_KEY',
    )
    .action(
      async (
        options: { full: boolean; checkpoints?: string; keys?: string; file?: string },
        command: Command,
      ) => {
        if (options.file !== undefined) {
          await verifyFile(runtime, command, options.file, options.keys, options.checkpoints);
          return;
        }
        const client = runtime.client(command);
        let checkpoints: string[] | undefined;
        if (options.checkpoints !== undefined) {
          const jwks = await keysOf(client.url, options.keys);
          const files = await readCheckpointDir(options.checkpoints);
          for (const { name, text } of files) {
            let file: CheckpointFile;
            try {
              file = JSON.parse(text) as CheckpointFile;
            } catch {
              throw new CliError(ExitCode.SERVER_ERROR, `Checkpoint file ${name} is not JSON.`);
            }
            if (!checkpointSignatureValid(file, jwks)) {
              throw new CliError(
                ExitCode.SERVER_ERROR,
                `Checkpoint file ${name} is not signed by a key of the audit key set: it cannot be trusted.`,
              );
            }
          }
          checkpoints = files.map((f) => f.text);
        }
        const v = options.full
          ? await fullVerification(runtime, command, client)
          : (
              await client.request<{ verifyAuditLog: Verification }>(
                `query Verify($checkpoints: [String!]) { verifyAuditLog(checkpoints: $checkpoints) { ${VERIFICATION} } }`,
                checkpoints === undefined ? {} : { checkpoints },
              )
            ).verifyAuditLog;
        runtime.print(command, v, () =>
          fields([
            ['ok', v.ok],
            ['mode', v.mode],
            ['checked', v.checked],
            ['re-hashed', v.walked],
            ['verified from seq', v.verifiedFrom],
            [
              'checkpoint',
              v.checkpoint === null ? null : `seq ${v.checkpoint.seq} (${v.checkpoint.signedAt})`,
            ],
            ['checkpoint files', checkpoints?.length ?? null],
            ['problem', v.problem],
            ['first broken', v.firstBrokenId],
            ['reason', v.reason],
            [
              'missing',
              v.missingEvents === 0
                ? null
                : `${v.missingEvents}${v.missingFromSeq === null ? '' : ` (seq ${v.missingFromSeq}–${v.missingToSeq})`}`,
            ],
            [
              'unrecorded rows',
              v.unrecorded.length === 0
                ? null
                : v.unrecorded.map((r) => `${r.table} ${r.id}`).join(', '),
            ],
            ['last seq', v.lastSeq],
            ['last hash', v.lastHash],
          ]),
        );
        if (!v.ok) {
          throw new CliError(
            ExitCode.SERVER_ERROR,
            `The audit log does not verify (${v.problem}): ${v.reason}`,
          );
        }
      },
    );

  audit
    .command('export')
    .description(
      'Write the audit chain as JSON Lines (entries with hashes and seals, checkpoints, public keys)',
    )
    .option('--after-seq <seq>', 'start after this seq (default: the first entry)', '0')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (options: { afterSeq: string; out?: string }, command: Command) => {
      const client = runtime.client(command);
      const lines: string[] = [];
      const write =
        options.out === undefined
          ? (line: string) => runtime.out.stdout(line)
          : (line: string) => lines.push(line);
      const keys = await keysOf(client.url, undefined);
      write(
        `${JSON.stringify({ type: 'keyholder-audit-export', v: 1, exportedAt: new Date().toISOString(), keys })}\n`,
      );
      let after = options.afterSeq;
      let count = 0;
      for (;;) {
        const { auditChain } = await client.request<{ auditChain: ChainEntryOut[] }>(
          `query Chain($after: ID, $first: Int) { auditChain(afterSeq: $after, first: $first) { id seq prevHash hash atMicros action actorId subjectId details sealKeyId seal } }`,
          { after, first: 5000 },
        );
        for (const entry of auditChain) write(`${JSON.stringify({ type: 'event', ...entry })}\n`);
        count += auditChain.length;
        const last = auditChain.at(-1);
        if (last === undefined || auditChain.length < 5000) break;
        after = last.seq;
      }
      const { auditCheckpoints } = await client.request<{
        auditCheckpoints: { keyId: string; payload: string; signature: string }[];
      }>('{ auditCheckpoints(first: 1000) { keyId payload signature } }');
      for (const c of [...auditCheckpoints].reverse()) {
        write(
          `${JSON.stringify({ type: 'checkpoint', keyId: c.keyId, payload: c.payload, signature: c.signature })}\n`,
        );
      }
      if (options.out !== undefined) {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(options.out, lines.join(''));
        runtime.out.stderr(
          `Exported ${count} entries and ${auditCheckpoints.length} checkpoints to ${options.out}.\n`,
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

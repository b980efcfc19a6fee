import type { Command } from 'commander';
import { CliError, ExitCode, usageError } from './exit-codes.js';
import { nextPageHint, type Page, table } from './output.js';
import { type CommandRuntime, defined, integer, oneOf } from './runtime.js';

interface Review {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly dueAt: string;
  readonly counts: {
    readonly total: number;
    readonly pending: number;
    readonly kept: number;
    readonly revoked: number;
  };
}

interface ReviewItem {
  readonly id: string;
  readonly outcome: string;
  readonly decision: string | null;
  readonly note: string | null;
  readonly grant: {
    readonly id: string;
    readonly identity: { readonly name: string } | null;
    readonly group: { readonly name: string } | null;
    readonly scope: { readonly name: string } | null;
    readonly role: { readonly name: string } | null;
    readonly resource: string | null;
  } | null;
}

const REVIEW = 'id name status dueAt counts { total pending kept revoked }';
const ITEM =
  'id outcome decision note grant { id identity { name } group { name } scope { name } role { name } resource }';

function reviewTable(reviews: readonly Review[]): string {
  return table(
    ['id', 'name', 'status', 'due', 'total', 'pending', 'kept', 'revoked'],
    reviews.map((r) => [
      r.id,
      r.name,
      r.status,
      r.dueAt,
      r.counts.total,
      r.counts.pending,
      r.counts.kept,
      r.counts.revoked,
    ]),
  );
}

function itemTable(items: readonly ReviewItem[]): string {
  return table(
    ['item', 'outcome', 'grant', 'holder', 'scope', 'resource'],
    items.map((i) => [
      i.id,
      i.outcome,
      i.grant?.id,
      i.grant?.identity?.name ?? (i.grant?.group ? `group ${i.grant.group.name}` : null),
      i.grant?.scope?.name ?? (i.grant?.role ? `role ${i.grant.role.name}` : null),
      i.grant === null ? null : (i.grant.resource ?? '*'),
    ]),
  );
}

/** `--due` as an instant, or `--due-in` seconds from now. */
function dueAt(options: { due?: string; dueIn?: number }): string {
  if ((options.due === undefined) === (options.dueIn === undefined)) {
    throw usageError('Give one of --due <instant> or --due-in <seconds>.');
  }
  return options.due ?? new Date(Date.now() + (options.dueIn ?? 0) * 1000).toISOString();
}

/** `review start|ls|show|decide`: access review campaigns. */
export function registerReviewCommands(program: Command, runtime: CommandRuntime): void {
  const review = program
    .command('review')
    .description('Access reviews: keep or revoke each matching grant before a due date');

  review
    .command('start')
    .description('Start a review of the active grants matching the criteria (at least one)')
    .argument('<name>', 'what the review is, e.g. "Q3 payments access"')
    .option('--due <instant>', 'when undecided grants are revoked, an ISO 8601 instant')
    .option('--due-in <seconds>', 'or: that many seconds from now', integer('--due-in'))
    .option('--scope <scope>', 'grants of this scope')
    .option('--identity <identity-id>', 'grants of this identity')
    .option('--created-before <instant>', 'grants created before this instant')
    .option('--older-than <seconds>', 'grants older than this', integer('--older-than'))
    .action(
      async (
        name: string,
        options: {
          due?: string;
          dueIn?: number;
          scope?: string;
          identity?: string;
          createdBefore?: string;
          olderThan?: number;
        },
        command: Command,
      ) => {
        const filter = defined({
          scope: options.scope,
          identityId: options.identity,
          createdBefore: options.createdBefore,
          olderThanSeconds: options.olderThan,
        });
        if (Object.keys(filter).length === 0) {
          throw usageError(
            'Give at least one of --scope, --identity, --created-before, --older-than.',
          );
        }
        const input = { name, filter, dueAt: dueAt(options) };
        const data = await runtime
          .client(command)
          .request<{ startAccessReview: Review }>(
            `mutation Start($input: StartAccessReviewInput!) { startAccessReview(input: $input) { ${REVIEW} } }`,
            { input },
          );
        runtime.print(command, data.startAccessReview, (r) => reviewTable([r]));
      },
    );

  review
    .command('ls')
    .description('List access reviews')
    .option('--status <status>', 'only OPEN or CLOSED', oneOf('--status', ['OPEN', 'CLOSED']))
    .option('--first <n>', 'page size', integer('--first'), 50)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      async (options: { status?: string; first: number; after?: string }, command: Command) => {
        const data = await runtime.client(command).request<{ accessReviews: Page<Review> }>(
          `query Reviews($first: Int, $after: String, $status: AccessReviewStatus) {
            accessReviews(first: $first, after: $after, status: $status) { nodes { ${REVIEW} } pageInfo { hasNextPage endCursor } }
          }`,
          { first: options.first, after: options.after ?? null, status: options.status ?? null },
        );
        runtime.print(
          command,
          data.accessReviews,
          (page) => reviewTable(page.nodes) + nextPageHint(page),
        );
      },
    );

  review
    .command('show')
    .description("List a review's items (the grants to decide), a page at a time")
    .argument('<review-id>', 'the review')
    .option('--pending', 'only the undecided items', false)
    .option('--first <n>', 'page size', integer('--first'), 100)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      async (
        id: string,
        options: { pending: boolean; first: number; after?: string },
        command: Command,
      ) => {
        const data = await runtime.client(command).request<{
          accessReview: (Review & { items: Page<ReviewItem> }) | null;
        }>(
          `query Review($id: ID!, $first: Int, $after: String, $decided: Boolean) {
            accessReview(id: $id) { ${REVIEW}
              items(first: $first, after: $after, decided: $decided) { nodes { ${ITEM} } pageInfo { hasNextPage endCursor } } }
          }`,
          {
            id,
            first: options.first,
            after: options.after ?? null,
            decided: options.pending ? false : null,
          },
        );
        const found = data.accessReview;
        if (found === null) {
          throw new CliError(
            ExitCode.SERVER_ERROR,
            `Access review "${id}" does not exist.`,
            'NOT_FOUND',
          );
        }
        runtime.print(
          command,
          found,
          (r) => `${reviewTable([r])}\n${itemTable(r.items.nodes)}${nextPageHint(r.items)}`,
        );
      },
    );

  review
    .command('decide')
    .description("Keep or revoke one item's grant (REVOKE revokes it at once)")
    .argument('<item-id>', 'the review item')
    .argument('<decision>', 'keep or revoke')
    .option('--note <text>', 'why, recorded with the decision')
    .action(
      async (itemId: string, decision: string, options: { note?: string }, command: Command) => {
        const upper = oneOf('<decision>', ['KEEP', 'REVOKE'])(decision);
        const data = await runtime.client(command).request<{ decideAccessReviewItem: ReviewItem }>(
          `mutation Decide($itemId: ID!, $decision: AccessReviewDecision!, $note: String) {
              decideAccessReviewItem(itemId: $itemId, decision: $decision, note: $note) { ${ITEM} } }`,
          { itemId, decision: upper, note: options.note ?? null },
        );
        runtime.print(command, data.decideAccessReviewItem, (i) => itemTable([i]));
      },
    );
}

import { isDomainError } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { Database } from '../../db/client.js';
import { whoCan } from '../../modules/grants/who-can.js';
import { badRequest } from './authzen-refusal.js';
import type {
  ActionSearch,
  AuthzenRequestContext,
  AuthzenResource,
  ResourceSearch,
  SubjectSearch,
} from './authzen-request.js';
import { decideEvaluation } from './decide-evaluation.js';
import type { ScopeAliasDirectory } from './scope-alias-directory.js';

/** How many results a search page holds at most. */
export const SEARCH_PAGE_SIZE = 50;

export interface SearchPage<T> {
  readonly results: readonly T[];
  readonly page: { readonly next_token: string };
}

const KINDS = new Set(['user', 'service', 'agent']);

function offsetOf(token: string | null): number {
  if (token === null) return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw badRequest('page.token is not a token this server issued.');
  }
  return offset;
}

function pageOf<T>(all: readonly T[], token: string | null): SearchPage<T> {
  const offset = offsetOf(token);
  const end = offset + SEARCH_PAGE_SIZE;
  return {
    results: all.slice(offset, end),
    page: { next_token: end < all.length ? Buffer.from(String(end)).toString('base64url') : '' },
  };
}

/**
 * Who may do the action on the resource now: `whoCan`'s holders (direct, through groups, roles
 * expanded, owner-capped), each confirmed by a full decision (conditions included) so that every
 * subject returned is permitted when evaluated with the same context. A subject is named by its
 * externalId (its Keyholder id when it has none), typed by its kind (`user`, `service`, `agent`);
 * a `subject.type` naming a kind keeps that kind only.
 */
export async function searchSubjects(
  database: Database,
  ctx: KeyholderContext,
  search: SubjectSearch,
  scope: string,
): Promise<SearchPage<{ type: string; id: string }>> {
  let after: string | null = search.page;
  const holders = await whoCan(database, {
    scope,
    resource: search.resource.id,
    first: SEARCH_PAGE_SIZE,
    after,
  }).catch((error: unknown) => {
    if (isDomainError(error)) throw badRequest(`page.token: ${error.message}`);
    throw error;
  });
  after = holders.pageInfo.hasNextPage ? holders.pageInfo.endCursor : null;
  const ids = [...new Set(holders.nodes.map((holder) => holder.identityId))];
  const wantedKind = search.subjectType.toLowerCase();
  const results: { type: string; id: string }[] = [];
  const decided = await Promise.all(
    ids.map(async (identityId) => {
      const identity = await ctx.loaders.identity.load(identityId);
      const outcome = await decideEvaluation(ctx, {
        identityId,
        subjectId: identityId,
        action: scope,
        scope,
        resource: search.resource,
        context: search.context,
        countsAsUse: false,
      });
      return { identity, allowed: outcome.decision };
    }),
  );
  for (const { identity, allowed } of decided) {
    if (identity === null || !allowed) continue;
    const kind = identity.kind.toLowerCase();
    if (KINDS.has(wantedKind) && kind !== wantedKind) continue;
    results.push({ type: kind, id: identity.externalId ?? identity.id });
  }
  return { results, page: { next_token: after ?? '' } };
}

/**
 * The candidates a full decision allows, in order: `question(candidate)` says what to decide for
 * each (a search is not a use of the grants it reads).
 */
async function allowedAmong<T>(
  ctx: KeyholderContext,
  identityId: string,
  candidates: readonly T[],
  question: (candidate: T) => {
    scope: string;
    resource: AuthzenResource;
    context: AuthzenRequestContext;
  },
): Promise<T[]> {
  const allowed: T[] = [];
  for (const candidate of candidates) {
    const { scope, resource, context } = question(candidate);
    const outcome = await decideEvaluation(ctx, {
      identityId,
      subjectId: identityId,
      action: scope,
      scope,
      resource,
      context,
      countsAsUse: false,
    });
    if (outcome.decision) allowed.push(candidate);
  }
  return allowed;
}

/**
 * Which resources the subject may do the action on: the resource patterns of its live grants of
 * the scope (`*` for a grant on every resource, `x*` for every id starting with `x`, else the id),
 * each confirmed by a full decision, sorted.
 */
export async function searchResources(
  ctx: KeyholderContext,
  search: ResourceSearch,
  identityId: string,
  scope: string,
): Promise<SearchPage<{ type: string; id: string }>> {
  const grants = await ctx.loaders.liveGrants.load(identityId);
  const patterns = [
    ...new Set(grants.filter((g) => g.scope === scope).map((g) => g.resource ?? '*')),
  ].sort();
  const allowed = await allowedAmong(ctx, identityId, patterns, (pattern) => ({
    scope,
    resource: { ...search.resource, id: pattern },
    context: search.context,
  }));
  return pageOf(
    allowed.map((id) => ({ type: search.resource.type, id })),
    search.page,
  );
}

/**
 * What the subject may do on the resource: every scope of its live grants that a full decision
 * allows, by name and by each alias, sorted.
 */
export async function searchActions(
  ctx: KeyholderContext,
  search: ActionSearch,
  identityId: string,
  aliases: ScopeAliasDirectory,
): Promise<SearchPage<{ name: string }>> {
  await aliases.refresh(ctx.revisions.seen);
  const grants = await ctx.loaders.liveGrants.load(identityId);
  const scopes = [...new Set(grants.map((g) => g.scope))].sort();
  const allowed = await allowedAmong(ctx, identityId, scopes, (scope) => ({
    scope,
    resource: search.resource,
    context: search.context,
  }));
  const names = allowed.flatMap((scope) => [scope, ...aliases.aliasesOf(scope)]);
  return pageOf(
    names.map((name) => ({ name })),
    search.page,
  );
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDatabaseUnavailable, isDomainError } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import { requestAccessHint } from '../../modules/access-requests/request-access-hint.js';
import { accessEventOf } from '../../modules/audit/access-event.js';
import { accessEventDue } from '../../modules/audit/access-log-mode.js';
import { AccessRecord } from '../../modules/audit/access-record.js';
import { callerHolds } from '../../modules/grants/caller-authority.js';
import type { Authentication } from '../../modules/keys/authentication.js';
import { authenticateChallenge } from '../../modules/keys/dpop-proof.js';
import { type Possession, provenBy } from '../../modules/keys/proof-of-possession.js';
import { requestIdOf } from '../../telemetry/request-id.js';
import { ACCESS_LOG_UNAVAILABLE } from '../access-log-plugin.js';
import {
  createContext,
  credentialOf,
  type PresentedCredential,
  possessionOf,
  requestMetaOf,
} from '../context.js';
import { type EndpointOptions, originOf } from '../endpoint-options.js';
import { AuthzenRefusal, badRequest } from './authzen-refusal.js';
import {
  type AuthzenEvaluation,
  parseActionSearch,
  parseEvaluation,
  parseEvaluations,
  parseResourceSearch,
  parseSubjectSearch,
} from './authzen-request.js';
import { searchActions, searchResources, searchSubjects } from './authzen-search.js';
import { decideEvaluation, type EvaluationOutcome } from './decide-evaluation.js';
import { ScopeAliasDirectory } from './scope-alias-directory.js';
import { SubjectDirectory } from './subject-directory.js';

/** What the AuthZEN API is given by the server it is mounted on. */
export type AuthzenOptions = EndpointOptions;

/** The scope an enforcement point needs to ask. */
export const DECISIONS_SCOPE = 'decisions:execute';

const PATHS = {
  evaluation: '/access/v1/evaluation',
  evaluations: '/access/v1/evaluations',
  subject: '/access/v1/search/subject',
  resource: '/access/v1/search/resource',
  action: '/access/v1/search/action',
} as const;

type Endpoint = keyof typeof PATHS;

const ENDPOINTS = new Map<string, Endpoint>(
  Object.entries(PATHS).map(([endpoint, path]) => [path, endpoint as Endpoint]),
);

export const METADATA_PATH = '/.well-known/authzen-configuration';

function sendText(res: ServerResponse, status: number, message: string, error?: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  if (status === 401) res.setHeader('www-authenticate', authenticateChallenge(error));
  res.end(message);
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/** Whether `path` is one the AuthZEN API serves. */
export function isAuthzenPath(path: string): boolean {
  return path === METADATA_PATH || ENDPOINTS.has(path);
}

/** One access record per subject identity (and one for decisions about no known identity). */
class SubjectRecords {
  readonly #records = new Map<string, AccessRecord>();

  note(identityId: string | null, outcome: EvaluationOutcome, action: string): void {
    const key = identityId ?? '';
    let record = this.#records.get(key);
    if (record === undefined) {
      record = new AccessRecord();
      this.#records.set(key, record);
    }
    const coordinate = `AuthZEN(${outcome.scope ?? action}, ${outcome.resource ?? '*'})`.slice(
      0,
      600,
    );
    const decided = outcome.decided;
    if (decided?.grant) record.allowed(coordinate, [decided.grant]);
    else
      record.refused(
        coordinate,
        'DENIED',
        outcome.reason,
        outcome.scope === null ? [] : [outcome.scope],
      );
    if (decided !== null && decided.conditions.length > 0) {
      record.noteConditions(decided.conditions, outcome.resource);
    }
  }

  entries(): [string | null, AccessRecord][] {
    return [...this.#records].map(([key, record]) => [key === '' ? null : key, record]);
  }
}

/**
 * The AuthZEN Authorization API 1.0 over HTTP: the metadata document, access evaluation(s) and the
 * subject, resource and action searches. Callers authenticate like GraphQL callers and must hold
 * `decisions:execute`; refusals of the whole request are an HTTP status with a message string
 * (400, 401, 403, 503), decisions are always 200. Every decision is `check`'s, recorded in an
 * access event per subject (under `ACCESS_LOG`'s rules) before the answer is sent; an allowing
 * evaluation counts as a use of its grant.
 */
export function authzenRoutes(options: AuthzenOptions) {
  const subjects = new SubjectDirectory(options.database);
  const aliases = new ScopeAliasDirectory(options.database);

  const metadata = (req: IncomingMessage, res: ServerResponse): void => {
    const base = originOf(req);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'public, max-age=3600');
    res.end(
      JSON.stringify({
        policy_decision_point: base,
        access_evaluation_endpoint: `${base}${PATHS.evaluation}`,
        access_evaluations_endpoint: `${base}${PATHS.evaluations}`,
        search_subject_endpoint: `${base}${PATHS.subject}`,
        search_resource_endpoint: `${base}${PATHS.resource}`,
        search_action_endpoint: `${base}${PATHS.action}`,
      }),
    );
  };

  /** Authenticates with the subjects prefetched, re-reading once if a remembered id was stale. */
  const authenticateFor = async (
    secret: string,
    subjectIds: readonly string[],
    request: ReturnType<typeof requestMetaOf>,
    possession: Possession,
  ): Promise<{ auth: Authentication; identityOf: Map<string, string | null> }> => {
    const identityOf = new Map<string, string | null>();
    for (const id of subjectIds) identityOf.set(id, subjects.guess(id));
    const prefetch = () => ({
      identityIds: [...new Set([...identityOf.values()].filter((id) => id !== null))],
      scopes: [],
    });
    let auth = await options.authenticate(secret, prefetch(), request, possession);
    const unconfirmed = subjectIds.filter((id) => {
      const guess = identityOf.get(id) ?? null;
      return guess === null || !subjects.confirms(id, auth.identities.get(guess));
    });
    if (unconfirmed.length > 0) {
      const found = await subjects.lookup(unconfirmed);
      for (const id of unconfirmed) identityOf.set(id, found.get(id) ?? null);
      if (found.size > 0) {
        auth = await options.authenticate(secret, prefetch(), request, provenBy(auth));
      }
      for (const id of unconfirmed) {
        const guess = identityOf.get(id) ?? null;
        if (guess !== null && !subjects.confirms(id, auth.identities.get(guess))) {
          identityOf.set(id, null);
        }
      }
    }
    return { auth, identityOf };
  };

  const evaluate = async (
    ctx: KeyholderContext,
    evaluations: readonly AuthzenEvaluation[],
    identityOf: Map<string, string | null>,
    records: SubjectRecords,
    stopWhen: boolean | null,
  ): Promise<EvaluationOutcome[]> => {
    const scopes = await aliases.resolve(
      [...new Set(evaluations.map((e) => e.action))],
      ctx.revisions.seen,
    );
    const outcomes: EvaluationOutcome[] = [];
    for (const evaluation of evaluations) {
      const identityId = identityOf.get(evaluation.subject.id as string) ?? null;
      const outcome = await decideEvaluation(ctx, {
        identityId,
        subjectId: evaluation.subject.id as string,
        action: evaluation.action,
        scope: scopes.get(evaluation.action) ?? null,
        resource: evaluation.resource,
        context: evaluation.context,
      });
      records.note(identityId, outcome, evaluation.action);
      if (options.decisionCounts !== undefined) {
        if (outcome.decision) options.decisionCounts.allowed += 1;
        else options.decisionCounts.denied += 1;
      }
      outcomes.push(outcome);
      if (stopWhen !== null && outcome.decision === stopWhen) break;
    }
    return outcomes;
  };

  const answerOf = (outcome: EvaluationOutcome) =>
    outcome.decision
      ? { decision: true }
      : { decision: false, context: { reason_admin: { en: outcome.reason } } };

  /**
   * A single evaluation's denial for want of any grant also says how the subject could ask for it
   * (`context.request_access`, the GraphQL `requestAccess` hint in AuthZEN's spelling).
   */
  const withRequestAccess = async (ctx: KeyholderContext, outcome: EvaluationOutcome) => {
    const answer = answerOf(outcome);
    const decided = outcome.decided;
    if (outcome.decision || decided === null || decided.conditions.length > 0) return answer;
    const hint = await requestAccessHint(
      options.database,
      decided.identityId,
      await ctx.loaders.scope.load(decided.scope),
      decided.resource,
    );
    if (hint === null || !('context' in answer)) return answer;
    return {
      ...answer,
      context: {
        ...answer.context,
        request_access: {
          scope: hint.scope,
          resource: hint.resource,
          ttl_seconds: hint.ttlSeconds,
          requires_approval: hint.requiresApproval,
          auto_approved: hint.autoApproved,
        },
      },
    };
  };

  /** Queues each subject's access event; a full queue that stays full refuses the answer. */
  const recordAccess = async (
    ctx: KeyholderContext,
    records: SubjectRecords,
    endpoint: Endpoint,
    started: number,
  ): Promise<void> => {
    const { accessLog, accessLogMode, grantUsage } = options.services;
    const used = ctx.uses.take();
    if (used.length > 0) grantUsage.record(used);
    for (const [subjectId, record] of records.entries()) {
      const due = accessEventDue(accessLogMode, record);
      if (!due.write) continue;
      const event = accessEventOf(
        ctx.caller,
        record,
        { name: endpoint, type: 'authzen', documentHash: null, transport: 'http' },
        performance.now() - started,
        false,
        due.sensitive,
      );
      try {
        await accessLog.append(subjectId === null ? event : { ...event, subjectId });
      } catch {
        throw new AuthzenRefusal(503, ACCESS_LOG_UNAVAILABLE);
      }
    }
  };

  const answer = async (
    endpoint: Endpoint,
    body: unknown,
    credential: PresentedCredential,
    req: IncomingMessage,
    requestId: string,
  ): Promise<unknown> => {
    const { secret } = credential;
    const possession = possessionOf(req, credential);
    const started = performance.now();
    const request = requestMetaOf(req, requestId, options.services.conditionSettings);
    let parsed: ReturnType<typeof parseFor>;
    try {
      parsed = parseFor(endpoint, body);
    } catch (error) {
      // An unauthenticated caller learns nothing about its body: 401 comes first.
      await options.authenticate(secret, undefined, request, possession);
      throw error;
    }
    const { auth, identityOf } = await authenticateFor(
      secret,
      parsed.subjectIds,
      request,
      possession,
    );
    if (auth.caller.keyId !== null) options.keyUsage.record(auth.caller.keyId);
    const ctx = createContext(options, auth, request, (again) =>
      options.authenticate(secret, again, request, provenBy(auth)),
    );
    if (!callerHolds(ctx, DECISIONS_SCOPE, null)) {
      throw new AuthzenRefusal(
        403,
        `Asking for access decisions needs the scope "${DECISIONS_SCOPE}", and identity "${auth.caller.identity.name}" does not hold it.`,
      );
    }
    const records = new SubjectRecords();
    let response: unknown;
    if (parsed.kind === 'evaluation') {
      const [outcome] = await evaluate(ctx, [parsed.evaluation], identityOf, records, null);
      response = await withRequestAccess(ctx, outcome as EvaluationOutcome);
    } else if (parsed.kind === 'evaluations') {
      const stopWhen =
        parsed.semantic === 'deny_on_first_deny'
          ? false
          : parsed.semantic === 'permit_on_first_permit'
            ? true
            : null;
      const outcomes = await evaluate(ctx, parsed.evaluations, identityOf, records, stopWhen);
      response = { evaluations: outcomes.map(answerOf) };
    } else {
      response = await search(ctx, parsed, identityOf);
    }
    await recordAccess(ctx, records, endpoint, started);
    return response;
  };

  const search = async (
    ctx: KeyholderContext,
    parsed: Extract<ReturnType<typeof parseFor>, { kind: 'subject' | 'resource' | 'action' }>,
    identityOf: Map<string, string | null>,
  ): Promise<unknown> => {
    const empty = { results: [], page: { next_token: '' } };
    if (parsed.kind === 'subject') {
      const scope = (await aliases.resolve([parsed.search.action], ctx.revisions.seen)).get(
        parsed.search.action,
      );
      if (scope === null || scope === undefined) return empty;
      return searchSubjects(options.database, ctx, parsed.search, scope);
    }
    const identityId = identityOf.get(parsed.search.subject.id as string) ?? null;
    if (identityId === null) return empty;
    if (parsed.kind === 'resource') {
      const scope = (await aliases.resolve([parsed.search.action], ctx.revisions.seen)).get(
        parsed.search.action,
      );
      if (scope === null || scope === undefined) return empty;
      return searchResources(ctx, parsed.search, identityId, scope);
    }
    return searchActions(ctx, parsed.search, identityId, aliases);
  };

  return {
    /** Serves `path` (one `isAuthzenPath` accepts). */
    async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
      const requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      if (path === METADATA_PATH) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendText(res, 405, `${METADATA_PATH} answers GET only.`);
          return;
        }
        metadata(req, res);
        return;
      }
      const endpoint = ENDPOINTS.get(path) as Endpoint;
      try {
        if (req.method !== 'POST') throw new AuthzenRefusal(400, `${path} answers POST only.`);
        const credential = credentialOf(req.headers.authorization);
        if (credential === null) {
          throw new AuthzenRefusal(
            401,
            'Authentication required: send "Authorization: Bearer <api key or token>".',
          );
        }
        const read = await options.readBody(req, res);
        if ('refusal' in read) {
          sendText(res, read.refusal.status, read.refusal.message);
          return;
        }
        if (read.body === undefined) {
          throw badRequest(
            'The request body must be JSON, sent as content-type: application/json.',
          );
        }
        sendJson(res, await answer(endpoint, read.body, credential, req, requestId));
      } catch (error) {
        if (error instanceof AuthzenRefusal) {
          sendText(res, error.status, error.message);
        } else if (isDomainError(error) && error.code === 'UNAUTHENTICATED') {
          sendText(res, 401, error.message, error);
        } else if (isDatabaseUnavailable(error)) {
          options.log('Database unavailable for an AuthZEN request', error);
          sendText(res, 503, 'The database is unavailable; no decision was made. Try again later.');
        } else {
          options.log('AuthZEN request failed', error);
          sendText(res, 500, 'Internal server error.');
        }
      }
    },
  };
}

/** The parsed body of an endpoint, with the subject ids it names. */
function parseFor(endpoint: Endpoint, body: unknown) {
  switch (endpoint) {
    case 'evaluation': {
      const evaluation = parseEvaluation(body);
      return {
        kind: 'evaluation' as const,
        evaluation,
        subjectIds: [evaluation.subject.id as string],
      };
    }
    case 'evaluations': {
      const { evaluations, semantic } = parseEvaluations(body);
      return {
        kind: 'evaluations' as const,
        evaluations,
        semantic,
        subjectIds: [...new Set(evaluations.map((e) => e.subject.id as string))],
      };
    }
    case 'subject':
      return { kind: 'subject' as const, search: parseSubjectSearch(body), subjectIds: [] };
    case 'resource': {
      const search = parseResourceSearch(body);
      return { kind: 'resource' as const, search, subjectIds: [search.subject.id as string] };
    }
    case 'action': {
      const search = parseActionSearch(body);
      return { kind: 'action' as const, search, subjectIds: [search.subject.id as string] };
    }
  }
}

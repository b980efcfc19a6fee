import { RemoteGrantsError } from './remote-grants-error.js';

/** One of the caller's live grants, as Keyholder reports it. */
export interface RemoteGrant {
  readonly id: string;
  readonly scope: string;
  /** `null`: every resource; an id; or a prefix ending in `*`. */
  readonly resource: string | null;
  /** ISO date-time, or `null` for a grant that does not expire. */
  readonly expiresAt: string | null;
  /** The grant's CEL condition, or `null`. */
  readonly condition: string | null;
  /** The condition its scope's policy adds, or `null`. */
  readonly policyCondition: string | null;
}

/** Who the caller is and what it holds, according to Keyholder. */
export interface RemoteCaller {
  /** The caller's identity id, `null` for an anonymous caller. */
  readonly identityId: string | null;
  readonly grants: readonly RemoteGrant[];
}

export const ANONYMOUS: RemoteCaller = Object.freeze({ identityId: null, grants: [] });

export const CALLER_QUERY =
  'query KeyholderCaller { me { id grants(active: true) { id scope { name } resource expiresAt condition policyCondition } } }';

interface Request {
  readonly endpoint: URL;
  readonly apiKey: string;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
}

/**
 * Asks Keyholder who holds `apiKey` and what it holds now. Resolves to the caller, or rejects with
 * a `RemoteGrantsError` saying why it could not (`UNAUTHENTICATED` included).
 */
export async function fetchRemoteCaller(request: Request): Promise<RemoteCaller> {
  const signal = AbortSignal.timeout(request.timeoutMs);
  let status: number;
  let text: string;
  try {
    const response = await request.fetch(request.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${request.apiKey}`,
      },
      body: JSON.stringify({ query: CALLER_QUERY }),
      signal,
      redirect: 'error',
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (signal.aborted) {
      throw new RemoteGrantsError(
        'TIMEOUT',
        `Keyholder at ${request.endpoint.origin} did not answer within ${request.timeoutMs} ms.`,
        { cause },
      );
    }
    throw new RemoteGrantsError(
      'UNREACHABLE',
      `Keyholder at ${request.endpoint.origin} could not be reached.`,
      { cause },
    );
  }
  return readCaller(request.endpoint, status, text);
}

function readCaller(endpoint: URL, status: number, text: string): RemoteCaller {
  let body: { data?: unknown; errors?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed;
  } catch {
    body = undefined;
  }
  const errors = Array.isArray(body?.errors) ? (body.errors as unknown[]) : [];
  if (errors.some((error) => codeOf(error) === 'UNAUTHENTICATED')) {
    throw new RemoteGrantsError('UNAUTHENTICATED', 'Keyholder refused the caller’s API key.', {
      status,
    });
  }
  if (status < 200 || status > 299) {
    throw new RemoteGrantsError(
      'HTTP_STATUS',
      `Keyholder at ${endpoint.origin} answered with HTTP ${status}.`,
      { status },
    );
  }
  if (body === undefined) {
    throw new RemoteGrantsError(
      'BAD_RESPONSE',
      `Keyholder at ${endpoint.origin} answered with a body that is not a JSON object.`,
      { status },
    );
  }
  if (errors.length > 0) {
    const codes = [...new Set(errors.map(codeOf))].join(', ');
    throw new RemoteGrantsError(
      'GRAPHQL_ERRORS',
      `Keyholder at ${endpoint.origin} answered with ${errors.length} GraphQL error(s) (${codes}).`,
      { status },
    );
  }
  const caller = callerOf(body.data);
  if (caller === null) {
    throw new RemoteGrantsError(
      'BAD_RESPONSE',
      `Keyholder at ${endpoint.origin} answered without the caller's id and grants.`,
      { status },
    );
  }
  return caller;
}

function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' ? code : 'no code';
}

/** The caller in `data`, or `null` when `data` does not have the shape asked for. */
function callerOf(data: unknown): RemoteCaller | null {
  const me = (data as { me?: unknown } | null)?.me as { id?: unknown; grants?: unknown } | null;
  if (typeof me?.id !== 'string' || !Array.isArray(me.grants)) return null;
  const grants: RemoteGrant[] = [];
  for (const item of me.grants as unknown[]) {
    const grant = item as {
      id?: unknown;
      scope?: { name?: unknown } | null;
      resource?: unknown;
      expiresAt?: unknown;
      condition?: unknown;
      policyCondition?: unknown;
    } | null;
    const scope = grant?.scope?.name;
    const resource = grant?.resource ?? null;
    const expiresAt = grant?.expiresAt ?? null;
    const condition = grant?.condition ?? null;
    const policyCondition = grant?.policyCondition ?? null;
    if (
      typeof grant?.id !== 'string' ||
      typeof scope !== 'string' ||
      (resource !== null && typeof resource !== 'string') ||
      (expiresAt !== null && typeof expiresAt !== 'string') ||
      (condition !== null && typeof condition !== 'string') ||
      (policyCondition !== null && typeof policyCondition !== 'string')
    ) {
      return null;
    }
    grants.push({ id: grant.id, scope, resource, expiresAt, condition, policyCondition });
  }
  return { identityId: me.id, grants };
}

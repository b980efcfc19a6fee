/** What `FORBIDDEN` errors carry to ask for the missing access (`requestAccess`'s input). */
export interface RequestAccessHint {
  readonly scope: string;
  readonly resource: string | null;
  readonly ttlSeconds: number | null;
  readonly autoApproved: boolean;
}

/** A GraphQL error as the console shows it. */
export interface ApiError {
  readonly message: string;
  readonly code: string | null;
  readonly path: readonly (string | number)[] | null;
  /** Present on a FORBIDDEN error that says how to ask for what was missing. */
  readonly requestAccess: RequestAccessHint | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `requestAccess` extension when it has the documented shape, else null. */
export function requestAccessOf(extensions: unknown): RequestAccessHint | null {
  if (!isRecord(extensions)) return null;
  const hint = extensions.requestAccess;
  if (!isRecord(hint) || typeof hint.scope !== 'string' || hint.scope === '') return null;
  return {
    scope: hint.scope,
    resource: typeof hint.resource === 'string' ? hint.resource : null,
    ttlSeconds:
      typeof hint.ttlSeconds === 'number' &&
      Number.isInteger(hint.ttlSeconds) &&
      hint.ttlSeconds > 0
        ? hint.ttlSeconds
        : null,
    autoApproved: hint.autoApproved === true,
  };
}

/** One error of a GraphQL response (or of a failed request) in the console's shape. */
export function apiErrorOf(raw: unknown): ApiError {
  if (!isRecord(raw)) return { message: String(raw), code: null, path: null, requestAccess: null };
  const extensions = isRecord(raw.extensions) ? raw.extensions : {};
  const code = typeof extensions.code === 'string' ? extensions.code : null;
  return {
    message: typeof raw.message === 'string' ? raw.message : 'Unknown error.',
    code,
    path: Array.isArray(raw.path) ? (raw.path as (string | number)[]) : null,
    requestAccess: code === 'FORBIDDEN' ? requestAccessOf(extensions) : null,
  };
}

/** The denial among `errors` (the first FORBIDDEN), or null. */
export function denialOf(errors: readonly ApiError[]): ApiError | null {
  return errors.find((error) => error.code === 'FORBIDDEN') ?? null;
}

/** The default lifetime offered for a request: the hint's longest TTL, else one hour. */
export function offeredTtlSeconds(hint: RequestAccessHint): number {
  return hint.ttlSeconds ?? 3600;
}

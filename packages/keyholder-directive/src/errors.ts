import { GraphQLError } from 'graphql';

/** The codes a client can see in `extensions.code`. Anything else is masked as internal. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
};

/** A failure the caller can act on. Its message is a sentence that names the thing. */
export class DomainError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message, { extensions: { ...details, code } });
    this.code = code;
  }

  /** The HTTP status used when this error ends a request before execution. */
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

export const unauthenticated = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.UNAUTHENTICATED, message, details);
export const forbidden = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.FORBIDDEN, message, details);
export const badUserInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, message, details);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.NOT_FOUND, message, details);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.CONFLICT, message, details);

/** Asserts an impossible state; clients only ever see it as a masked internal error. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Invariant violation: ${message}`);
}

/** PostgreSQL codes of a database that did not answer: timeouts, cancels, shutdowns, lost links. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // statement_timeout (or a cancel)
  '25P03', // idle_in_transaction_session_timeout
  '55P03', // lock_timeout
  '57P01', // admin shutdown
  '57P02', // crash shutdown
  '57P03', // cannot connect now
  '53300', // too many connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
/** What drivers call a connection that is gone or never came (postgres.js, Node). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * Whether `error` (or what it wraps) says the database did not answer — timed out, refused, went
 * away — rather than that the operation was wrong: such a request is answered
 * `SERVICE_UNAVAILABLE` (503), never served from anywhere else (fail closed).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth += 1) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      typeof code === 'string' &&
      (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_CODES.has(code))
    ) {
      return true;
    }
    if (typeof message === 'string' && /PGlite is closed/i.test(message)) return true;
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The sentence of `SERVICE_UNAVAILABLE`: nothing was served; a mutation's outcome is unknown. */
export const DATABASE_UNAVAILABLE =
  'The database did not answer in time, so nothing was served. Try again shortly; a mutation may or may not have been applied, so read before repeating it.';

/** `SERVICE_UNAVAILABLE`, HTTP 503 when it ends a request before execution. */
export function databaseUnavailable(reference?: string): GraphQLError {
  return new GraphQLError(DATABASE_UNAVAILABLE, {
    extensions: {
      code: 'SERVICE_UNAVAILABLE',
      ...(reference === undefined ? {} : { reference }),
      http: { status: 503 },
    },
  });
}

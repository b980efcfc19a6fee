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

import type { GraphQLFormattedError } from 'graphql';
import {
  DATABASE_UNAVAILABLE,
  ErrorCode,
  isDatabaseUnavailable,
} from 'keyholder-directive/errors.js';
import { SUBSCRIPTION_ENDED } from '../modules/audit/event-queue.js';

/** Codes whose messages are written for clients (ours and graphql/Apollo's request errors). */
const CLIENT_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  SUBSCRIPTION_ENDED,
]);

const PUBLIC_INTERNAL = new WeakSet<object>();

/** Lets an `INTERNAL_SERVER_ERROR` written for clients (no internals in it) keep its message. */
export function publicInternalError<E extends object>(error: E): E {
  PUBLIC_INTERNAL.add(error);
  return error;
}

/**
 * Apollo `formatError`: client-facing errors pass through; a database that did not answer
 * becomes `SERVICE_UNAVAILABLE` (see `isDatabaseUnavailable`); anything else (a bug, a failing
 * statement) becomes `INTERNAL_SERVER_ERROR`. Neither carries a stack, SQL or host; both are
 * logged with a reference the client gets, so the on-call engineer can find them.
 */
export function createFormatError(log: (message: string, error: unknown) => void) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    const isPublic = typeof error === 'object' && error !== null && PUBLIC_INTERNAL.has(error);
    if ((typeof code === 'string' && CLIENT_CODES.has(code)) || isPublic) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    // Apollo refuses an automatic persisted query whose hash is not its query's without a code.
    if (formatted.message === 'provided sha does not match query') {
      return {
        message:
          "The persistedQuery extension's sha256Hash is not the SHA-256 of the query sent with it.",
        extensions: { code: 'BAD_REQUEST', field: 'extensions.persistedQuery.sha256Hash' },
      };
    }
    const reference = Math.random().toString(36).slice(2, 10);
    if (isDatabaseUnavailable(error)) {
      log(`Database unavailable ${reference}`, error);
      return {
        message: DATABASE_UNAVAILABLE,
        ...(formatted.path ? { path: formatted.path } : {}),
        ...(formatted.locations ? { locations: formatted.locations } : {}),
        extensions: { code: 'SERVICE_UNAVAILABLE', reference },
      };
    }
    log(`Internal error ${reference}`, error);
    return {
      message: `Internal server error (reference ${reference}).`,
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR', reference },
    };
  };
}

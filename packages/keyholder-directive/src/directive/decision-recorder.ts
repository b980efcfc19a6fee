import type { GraphQLError } from 'graphql';
import type { GrantLike } from '../authz/grant-set.js';

/**
 * Receives what the directive decides during one operation, for access logging.
 * - A scope-only requirement is reported once per field coordinate per operation (that is how
 *   often it is decided); a resource or self requirement once per value.
 * - Calls are synchronous and on the request path: keep them to in-memory bookkeeping.
 */
export interface DecisionRecorder<G extends GrantLike = GrantLike> {
  /** `coordinate` was allowed by `grants`; empty when it needed no scope or the caller is its subject. */
  allowed(coordinate: string, grants: readonly G[]): void;
  /** `coordinate` was denied; `error` is the FORBIDDEN (or UNAUTHENTICATED) error at its path. */
  denied(coordinate: string, error: GraphQLError): void;
}

/**
 * Why a remote grants fetch gave the caller nothing:
 * - `UNREACHABLE`: the request to Keyholder failed (connection refused, DNS, reset);
 * - `TIMEOUT`: Keyholder did not answer, body included, within `timeoutMs`;
 * - `HTTP_STATUS`: Keyholder answered with a status other than 2xx (and not UNAUTHENTICATED);
 * - `GRAPHQL_ERRORS`: the response carried GraphQL errors;
 * - `BAD_RESPONSE`: the body was not the JSON shape asked for;
 * - `UNAUTHENTICATED`: Keyholder refused the caller's key (unknown, revoked, expired, or its
 *   identity disabled). The caller is then treated as anonymous rather than as an outage.
 */
export type RemoteGrantsFailure =
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'GRAPHQL_ERRORS'
  | 'BAD_RESPONSE'
  | 'UNAUTHENTICATED';

/** A failed fetch of the caller's grants, as `remoteGrants`' `onError` hook receives it. */
export class RemoteGrantsError extends Error {
  override readonly name = 'RemoteGrantsError';
  readonly reason: RemoteGrantsFailure;
  /** Keyholder's HTTP status, when it answered. */
  readonly status: number | undefined;

  constructor(
    reason: RemoteGrantsFailure,
    message: string,
    details: { status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.status = details.status;
  }
}

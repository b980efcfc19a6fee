import type { AccessRequestRow } from '../../db/tables.js';

export type AccessRequestStatus = AccessRequestRow['status'];

/**
 * A request's status as clients see it: a `PENDING` row past its `expiresAt` is `EXPIRED`, whether
 * or not its expiry has been written yet (it is written, with `accessrequest.expired`, when
 * someone tries to decide it).
 */
export function effectiveStatus(
  request: Pick<AccessRequestRow, 'status' | 'expiresAt'>,
  now = Date.now(),
): AccessRequestStatus {
  return request.status === 'PENDING' && request.expiresAt.getTime() <= now
    ? 'EXPIRED'
    : request.status;
}

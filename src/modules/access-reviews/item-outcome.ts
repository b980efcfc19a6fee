import type { AccessReviewItemRow, GrantRow } from '../../db/tables.js';

export type AccessReviewOutcome =
  | 'PENDING'
  | 'KEPT'
  | 'REVOKED'
  | 'ALREADY_ENDED'
  | 'KEPT_AS_LAST_ROOT_HOLDER';

/**
 * What an item's decision did. A review revokes a grant in the transaction that decides the item,
 * writing the same instant to `grants.revoked_at` and `access_review_items.decided_at`; a REVOKE
 * whose grant ended at any other instant found nothing left to revoke.
 */
export function itemOutcome(
  item: Pick<AccessReviewItemRow, 'decision' | 'decidedBy' | 'decidedAt'>,
  grant: Pick<GrantRow, 'revokedAt'>,
): AccessReviewOutcome {
  if (item.decision === null) return 'PENDING';
  if (item.decision === 'KEEP')
    return item.decidedBy === null ? 'KEPT_AS_LAST_ROOT_HOLDER' : 'KEPT';
  return grant.revokedAt !== null && grant.revokedAt.getTime() === item.decidedAt?.getTime()
    ? 'REVOKED'
    : 'ALREADY_ENDED';
}

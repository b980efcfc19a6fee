import { and, asc, eq, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  type AccessReviewItemRow,
  type AccessReviewRow,
  accessReviewItems,
  accessReviews,
  type GroupRow,
  groupMembers,
  groups,
} from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  type Page,
  pageSize,
  toPage,
} from '../shared/pagination.js';
import { isUuid } from '../shared/validate.js';
import { type AccessReviewDecision, decideAccessReviewItem } from './decide-access-review-item.js';
import { type StartAccessReviewInput, startAccessReview } from './start-access-review.js';

/**
 * Access reviews: campaigns over the grants matching a filter (or one group's memberships), each
 * kept or revoked by a reviewer who could revoke it on their own (a manager of the group, for a
 * membership), the rest revoked at the due time (`AccessReviewCloser`).
 */
export class AccessReviewService {
  constructor(private readonly database: Database) {}

  /** See `startAccessReview`. */
  start(actor: Caller, input: StartAccessReviewInput): Promise<AccessReviewRow> {
    return startAccessReview(this.database, actor, input);
  }

  /** See `decideAccessReviewItem`. */
  decide(
    actor: Caller,
    itemId: string,
    decision: AccessReviewDecision,
    note: string | null | undefined,
  ): Promise<AccessReviewItemRow> {
    return decideAccessReviewItem(this.database, actor, itemId, decision, note);
  }

  /** The group whose membership item `itemId` is; null for a grant's item or no item at all. */
  async groupOfItem(itemId: string): Promise<GroupRow | null> {
    if (!isUuid(itemId)) return null;
    const [row] = await this.database.db
      .select({ group: groups })
      .from(accessReviewItems)
      .innerJoin(groupMembers, eq(groupMembers.id, accessReviewItems.membershipId))
      .innerJoin(groups, eq(groups.id, groupMembers.groupId))
      .where(eq(accessReviewItems.id, itemId));
    return row?.group ?? null;
  }

  /** Reviews oldest first, optionally of one status. */
  async list(
    first: number | null | undefined,
    after: string | null | undefined,
    status: AccessReviewRow['status'] | null | undefined,
  ): Promise<Page<AccessReviewRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: SQL[] = [];
    if (status) conditions.push(eq(accessReviews.status, status));
    if (cursor) conditions.push(afterCursor(accessReviews.createdAt, accessReviews.id, cursor));
    const rows = await this.database.db
      .select()
      .from(accessReviews)
      .where(and(...conditions))
      .orderBy(asc(accessReviews.createdAt), asc(accessReviews.id))
      .limit(size + 1);
    return toPage(rows, size, encodeCursor);
  }
}

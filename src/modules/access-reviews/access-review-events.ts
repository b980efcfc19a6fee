import type {
  AccessReviewItemRow,
  AccessReviewRow,
  GrantRow,
  GroupMemberRow,
  GroupRow,
} from '../../db/tables.js';
import type { ChangeEvent } from '../audit/record-change.js';
import { eventScopes, grantFacts } from '../grants/grant-events.js';
import type { AccessReviewOutcome } from './item-outcome.js';

/** How a closed review's items ended, as `accessreview.closed` records them. */
export interface ReviewTally {
  readonly total: number;
  readonly kept: number;
  readonly revoked: number;
  readonly revokedAtDue: number;
  readonly alreadyEnded: number;
  readonly keptAsLastRootHolder: number;
}

/** The audit event of a review starting: what it covers, until when, and how many grants. */
export function reviewStarted(
  review: AccessReviewRow,
  grantScopes: readonly string[],
  itemCount: number,
): ChangeEvent {
  return {
    action: 'accessreview.started',
    subjectId: review.id,
    scopes: grantScopes,
    details: {
      after: {
        name: review.name,
        filter: review.filter,
        dueAt: review.dueAt.toISOString(),
        items: itemCount,
      },
    },
  };
}

/** The audit event of one item's decision, by a reviewer or (actor null) by the due time. */
export function itemDecided(
  review: Pick<AccessReviewRow, 'id' | 'name'>,
  item: Pick<AccessReviewItemRow, 'id' | 'decision' | 'note'>,
  grant: Pick<GrantRow, 'id' | 'identityId' | 'scope' | 'resource'> &
    Partial<Pick<GrantRow, 'groupId' | 'role'>>,
  outcome: AccessReviewOutcome,
  roleScopes: readonly string[] = [],
): ChangeEvent {
  return {
    action: 'accessreview.item_decided',
    subjectId: item.id,
    scopes: eventScopes(grant, roleScopes),
    details: {
      accessReviewId: review.id,
      accessReviewName: review.name,
      grantId: grant.id,
      grant: grantFacts(grant),
      decision: item.decision,
      outcome,
      note: item.note,
    },
  };
}

/** The audit event of one membership item's decision, by a reviewer or (actor null) by the due time. */
export function membershipItemDecided(
  review: Pick<AccessReviewRow, 'id' | 'name'>,
  item: Pick<AccessReviewItemRow, 'id' | 'decision' | 'note'>,
  group: Pick<GroupRow, 'id' | 'name'>,
  membership: Pick<GroupMemberRow, 'id' | 'memberIdentityId' | 'memberGroupId' | 'source'>,
  outcome: AccessReviewOutcome,
): ChangeEvent {
  return {
    action: 'accessreview.item_decided',
    subjectId: item.id,
    details: {
      accessReviewId: review.id,
      accessReviewName: review.name,
      membershipId: membership.id,
      membership: {
        groupId: group.id,
        groupName: group.name,
        ...(membership.memberIdentityId === null
          ? { memberGroupId: membership.memberGroupId }
          : { memberIdentityId: membership.memberIdentityId }),
        source: membership.source,
      },
      decision: item.decision,
      outcome,
      note: item.note,
    },
  };
}

/** The audit event of a review closing at its due time, with how its items ended. */
export function reviewClosed(
  review: AccessReviewRow,
  grantScopes: readonly string[],
  tally: ReviewTally,
): ChangeEvent {
  return {
    action: 'accessreview.closed',
    subjectId: review.id,
    scopes: grantScopes,
    details: { name: review.name, dueAt: review.dueAt.toISOString(), counts: tally },
  };
}

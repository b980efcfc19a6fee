import { and, eq, isNotNull, lt, or, type SQL } from 'drizzle-orm';
import { badUserInput } from 'keyholder-directive/errors.js';
import { grants, groupMembers, identities } from '../../db/tables.js';
import { liveGrant, liveMembership } from '../grants/live-grants.js';
import { MAX_TTL_SECONDS, parseId, requireScopeName } from '../shared/validate.js';

/** `AccessReviewFilter` as a client sends it. */
export interface AccessReviewFilterInput {
  readonly scope?: string | null;
  readonly identityId?: string | null;
  readonly groupId?: string | null;
  readonly createdBefore?: Date | null;
  readonly olderThanSeconds?: number | null;
}

/**
 * What a review covers, as stored in `access_reviews.filter`: `olderThanSeconds` is kept as given
 * and resolved to `createdBefore` when the review starts.
 */
export interface AccessReviewCriteria {
  readonly scope: string | null;
  readonly identityId: string | null;
  /**
   * The review covers this group's live direct memberships instead of grants (absent in reviews
   * stored before membership reviews existed).
   */
  readonly groupId?: string | null;
  readonly createdBefore: string | null;
  readonly olderThanSeconds: number | null;
}

/**
 * Validates a filter against the instant the review starts:
 * - at least one criterion (a review of every grant is one typo away from revoking everything);
 * - `scope` a well-formed name, `identityId` and `groupId` UUIDs; `groupId` (a review of the
 *   group's memberships) not with `scope` (which only grants have);
 * - `createdBefore` not in the future, or `olderThanSeconds` from 1 to five years; not both.
 * Existence of the scope and identity is checked by the caller, in its transaction.
 */
export function parseReviewFilter(
  input: AccessReviewFilterInput | null | undefined,
  now: number,
): AccessReviewCriteria {
  const scope = input?.scope ?? null;
  if (scope !== null) requireScopeName(scope, 'filter.scope');
  const identityId =
    input?.identityId === null || input?.identityId === undefined
      ? null
      : parseId(input.identityId, 'identity');
  const groupId =
    input?.groupId === null || input?.groupId === undefined
      ? null
      : parseId(input.groupId, 'group');
  if (groupId !== null && scope !== null) {
    throw badUserInput(
      "Give filter.groupId (a review of the group's memberships) or filter.scope (of grants), not both.",
      { field: 'filter' },
    );
  }
  const olderThanSeconds = input?.olderThanSeconds ?? null;
  const givenBefore = input?.createdBefore ?? null;
  if (olderThanSeconds !== null && givenBefore !== null) {
    throw badUserInput('Give either filter.olderThanSeconds or filter.createdBefore, not both.', {
      field: 'filter',
    });
  }
  if (
    olderThanSeconds !== null &&
    (!Number.isInteger(olderThanSeconds) ||
      olderThanSeconds < 1 ||
      olderThanSeconds > MAX_TTL_SECONDS)
  ) {
    throw badUserInput(
      `filter.olderThanSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}; got ${olderThanSeconds}.`,
      { field: 'filter.olderThanSeconds' },
    );
  }
  if (givenBefore !== null && givenBefore.getTime() > now) {
    throw badUserInput(
      `filter.createdBefore (${givenBefore.toISOString()}) is in the future; every grant would match.`,
      { field: 'filter.createdBefore' },
    );
  }
  const createdBefore =
    olderThanSeconds !== null ? new Date(now - olderThanSeconds * 1000) : givenBefore;
  if (scope === null && identityId === null && groupId === null && createdBefore === null) {
    throw badUserInput(
      'An access review needs at least one filter criterion: scope, identityId, groupId, createdBefore or olderThanSeconds.',
      { field: 'filter' },
    );
  }
  return {
    scope,
    identityId,
    ...(groupId === null ? {} : { groupId }),
    createdBefore: createdBefore?.toISOString() ?? null,
    olderThanSeconds,
  };
}

/**
 * The grants a review covers at `now`: active, of an active identity or of a group, matching every
 * criterion.
 */
export function reviewedGrantsCondition(criteria: AccessReviewCriteria): SQL {
  const conditions: SQL[] = [
    liveGrant(),
    or(eq(identities.status, 'ACTIVE'), isNotNull(grants.groupId)) as SQL,
  ];
  if (criteria.scope !== null) conditions.push(eq(grants.scope, criteria.scope));
  if (criteria.identityId !== null) conditions.push(eq(grants.identityId, criteria.identityId));
  if (criteria.createdBefore !== null) {
    conditions.push(lt(grants.createdAt, new Date(criteria.createdBefore)));
  }
  return and(...conditions) as SQL;
}

/**
 * The memberships a review of group `criteria.groupId` covers at `now`: live direct memberships in
 * it, of an active identity or of a group, matching `identityId` and `createdBefore` (as `addedAt`).
 */
export function reviewedMembershipsCondition(
  criteria: AccessReviewCriteria & { readonly groupId: string },
): SQL {
  const conditions: SQL[] = [
    eq(groupMembers.groupId, criteria.groupId),
    liveMembership(),
    or(eq(identities.status, 'ACTIVE'), isNotNull(groupMembers.memberGroupId)) as SQL,
  ];
  if (criteria.identityId !== null) {
    conditions.push(eq(groupMembers.memberIdentityId, criteria.identityId));
  }
  if (criteria.createdBefore !== null) {
    conditions.push(lt(groupMembers.addedAt, new Date(criteria.createdBefore)));
  }
  return and(...conditions) as SQL;
}

import type { GroupMemberRow, GroupRow } from '../../db/tables.js';
import type { ChangeEvent } from '../audit/record-change.js';

/** What a membership is, as its events record it. */
function membershipFacts(
  group: Pick<GroupRow, 'id' | 'name'>,
  membership: Pick<
    GroupMemberRow,
    'memberIdentityId' | 'memberGroupId' | 'expiresAt' | 'source' | 'reason'
  >,
) {
  return {
    groupId: group.id,
    groupName: group.name,
    ...(membership.memberIdentityId === null
      ? { memberGroupId: membership.memberGroupId }
      : { memberIdentityId: membership.memberIdentityId }),
    source: membership.source,
    expiresAt: membership.expiresAt?.toISOString() ?? null,
  };
}

export function groupCreated(group: GroupRow): ChangeEvent {
  return {
    action: 'group.created',
    subjectId: group.id,
    details: {
      after: { name: group.name, description: group.description, externalId: group.externalId },
    },
  };
}

export function memberAdded(
  group: Pick<GroupRow, 'id' | 'name'>,
  membership: GroupMemberRow,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action: 'group.member_added',
    subjectId: membership.id,
    details: { after: membershipFacts(group, membership), reason: membership.reason, ...more },
  };
}

export function memberRemoved(
  group: Pick<GroupRow, 'id' | 'name'>,
  membership: GroupMemberRow,
  reason: string,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action: 'group.member_removed',
    subjectId: membership.id,
    details: { before: membershipFacts(group, membership), reason, ...more },
  };
}

/** A group's name or externalId changed (SCIM renames). */
export function groupRenamed(before: GroupRow, after: GroupRow): ChangeEvent {
  return {
    action: 'group.renamed',
    subjectId: after.id,
    details: {
      before: { name: before.name, externalId: before.externalId },
      after: { name: after.name, externalId: after.externalId },
    },
  };
}

/** A TOKEN membership's expiry moved to a newer token's `exp`. */
export function memberRenewed(
  group: Pick<GroupRow, 'id' | 'name'>,
  membership: GroupMemberRow,
  expiresAt: Date,
  more: Record<string, unknown> = {},
): ChangeEvent {
  return {
    action: 'group.member_renewed',
    subjectId: membership.id,
    details: {
      before: membershipFacts(group, membership),
      after: membershipFacts(group, { ...membership, expiresAt }),
      ...more,
    },
  };
}

/** Which issuer's tokens feed the group, before and after. */
export function tokenFeedChanged(before: GroupRow, after: GroupRow, reason: string): ChangeEvent {
  const feed = (group: GroupRow) => ({
    tokenIssuer: group.tokenIssuer,
    tokenFedBy: group.tokenFedBy,
  });
  return {
    action: 'group.token_feed_changed',
    subjectId: after.id,
    details: { groupName: after.name, before: feed(before), after: feed(after), reason },
  };
}

export function groupDeleted(group: GroupRow, reason: string): ChangeEvent {
  return {
    action: 'group.deleted',
    subjectId: group.id,
    details: { before: { name: group.name, externalId: group.externalId }, reason },
  };
}

import { and, asc, eq, ilike, inArray, isNull, or, type SQL, sql } from 'drizzle-orm';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  type GroupMemberRow,
  type GroupRow,
  grants,
  groupMembers,
  groups,
  identities,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import {
  actorOf,
  assertMayConfer,
  beyondRevocationAuthority,
  conferredBy,
} from '../grants/grant-authority.js';
import { liveGrant, liveMembership, MAX_GROUP_DEPTH } from '../grants/live-grants.js';
import { lockIdentityGrants } from '../grants/lock-identity-grants.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { keepRootHolders } from '../grants/root-holders.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { assertConferrable } from '../scopes/scope-policy.js';
import { scopeRows } from '../scopes/scope-rows.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  type Page,
  pageSize,
  toPage,
} from '../shared/pagination.js';
import {
  isUuid,
  optionalText,
  parseId,
  requireName,
  requireText,
  resolveExpiry,
} from '../shared/validate.js';
import type { OidcIssuer } from '../tokens/oidc-issuers.js';
import {
  groupCreated,
  groupDeleted,
  groupRenamed,
  memberAdded,
  memberRemoved,
  tokenFeedChanged,
} from './group-events.js';
import { groupsReachedBy, nestedDepthBelow } from './group-graph.js';

/** The most members one call adds or removes (all or nothing). */
export const MAX_MEMBERS_PER_CALL = 1000;

export interface CreateGroupInput {
  readonly name: string;
  readonly description?: string | null;
  readonly externalId?: string | null;
}

export interface GroupMembersInput {
  readonly groupId: string;
  readonly identityIds?: readonly string[] | null;
  readonly groupIds?: readonly string[] | null;
  readonly reason: string;
  readonly ttlSeconds?: number | null;
  readonly expiresAt?: Date | null;
}

export interface GroupFilter {
  readonly nameContains?: string | null;
  readonly externalId?: string | null;
}

/** Where a change to members comes from, and how lenient it is (SCIM repeats itself). */
export interface MembershipOptions {
  /** @default 'MANUAL' */
  readonly source?: 'MANUAL' | 'SCIM';
  /**
   * Skip members already in (adding) or already out (removing) instead of `CONFLICT` /
   * `NOT_FOUND`: what SCIM's PATCH expects. @default false
   */
  readonly idempotent?: boolean;
}

/** A group name: like an identity's, without `*` (a grant's resource names one group by it). */
export function requireGroupName(value: string): string {
  const name = requireName(value, 'Group name', 200);
  if (name.includes('*')) {
    throw badUserInput(
      `Group name "${name}" may not contain "*" (grants name groups as resources).`,
      {
        field: 'name',
      },
    );
  }
  return name;
}

/** The ids of a members input, validated, at most `MAX_MEMBERS_PER_CALL` in all. */
function memberIds(input: Pick<GroupMembersInput, 'identityIds' | 'groupIds'>) {
  const identityIds = [...new Set(input.identityIds ?? [])].map((id) => parseId(id, 'identity'));
  const groupIds = [...new Set(input.groupIds ?? [])].map((id) => parseId(id, 'group'));
  if (identityIds.length + groupIds.length === 0) {
    throw badUserInput('Name at least one member: identityIds or groupIds.', {
      field: 'identityIds',
    });
  }
  if (identityIds.length + groupIds.length > MAX_MEMBERS_PER_CALL) {
    throw badUserInput(`At most ${MAX_MEMBERS_PER_CALL} members per call.`, {
      field: 'identityIds',
    });
  }
  return { identityIds, groupIds };
}

/** The live group `id`, locked for the change; `NOT_FOUND` when it does not exist or was deleted. */
export async function lockLiveGroup(tx: Tx, id: string): Promise<GroupRow> {
  const [group] = await tx
    .select()
    .from(groups)
    .where(and(eq(groups.id, id), isNull(groups.deletedAt)))
    .for('update');
  if (group === undefined) throw notFound(`Group ${id} does not exist.`);
  return group;
}

/**
 * Makes `identityId` a member of `group`, in `tx`, as an approved request to join says: the
 * approver (`actor`) must hold grantable everything the group confers until `expiresAt` (its
 * `requiresApproval` met by the approval, `maxTtlSeconds` still capping it); `CONFLICT` when the
 * identity is already a member. Source `MANUAL`, added by the approver, with `member.added`.
 */
export async function admitApprovedMember(
  tx: Tx,
  actor: Caller,
  group: GroupRow,
  identityId: string,
  membership: { readonly reason: string; readonly expiresAt: Date; readonly now: number },
): Promise<GroupMemberRow> {
  await assertMayConferGroup(
    tx,
    actor,
    group,
    membership.expiresAt,
    membership.now,
    'ttlSeconds',
    true,
  );
  await lockIdentityGrants(tx, identityId);
  const [existing] = await liveMembershipsOf(tx, group.id, [identityId], []);
  if (existing !== undefined) {
    throw conflict(`Identity ${identityId} is already a member of group "${group.name}".`, {
      existingMembershipIds: [existing.id],
    });
  }
  const [row] = await tx
    .insert(groupMembers)
    .values({
      groupId: group.id,
      memberIdentityId: identityId,
      reason: membership.reason,
      source: 'MANUAL',
      addedBy: actor.identity.id,
      expiresAt: membership.expiresAt,
    })
    .returning();
  if (row === undefined) throw new Error('Insert returned no membership row.');
  await recordChange(tx, actor, memberAdded(group, row));
  return row;
}

/**
 * Groups: teams of identities and of other groups, managed under Keyholder's rules:
 * - a member gets what the group's grants (and its parent groups' grants) confer, so adding one
 *   needs holding all of it grantable, for as long as the membership lasts (`assertMayConfer`),
 *   and obeys the scopes' policies (`assertConferrable`); nobody adds themselves;
 * - nesting refuses cycles (`CONFLICT`) and paths deeper than `MAX_GROUP_DEPTH` memberships;
 * - removing members and deleting groups never leaves a built-in scope without a holder;
 * - every change writes its audit events and advances the revision (`runChange`).
 * Managing a group also needs `groups:write` on its name, checked with the caller's conditions at
 * the request (`assertManagesGroup`).
 */
export class GroupService {
  constructor(
    private readonly database: Database,
    /** The OIDC issuers this server trusts (OIDC_ISSUERS): the only ones that may feed a group. */
    private readonly oidcIssuers: readonly Pick<OidcIssuer, 'issuer' | 'groupsClaim'>[] = [],
  ) {}

  async get(id: string): Promise<GroupRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.database.db.select().from(groups).where(eq(groups.id, id));
    return row ?? null;
  }

  /** Every group identity `identityId` belongs to, with the path (see `groupsReachedBy`). */
  reachedBy(identityId: string) {
    return groupsReachedBy(this.database.db, { identityId });
  }

  async byExternalId(externalId: string): Promise<GroupRow | null> {
    const [row] = await this.database.db
      .select()
      .from(groups)
      .where(and(eq(groups.externalId, externalId), isNull(groups.deletedAt)));
    return row ?? null;
  }

  async create(
    actor: Caller,
    input: CreateGroupInput,
    options: MembershipOptions = {},
  ): Promise<GroupRow> {
    const name = requireGroupName(input.name);
    const description = optionalText(input.description, 'description', 1000) ?? '';
    const externalId = optionalText(input.externalId, 'externalId', 200);
    return runChange(this.database, actor, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`group-name:${name}`}))`);
      const [taken] = await tx
        .select({ id: groups.id, name: groups.name })
        .from(groups)
        .where(
          and(
            isNull(groups.deletedAt),
            externalId === null
              ? eq(groups.name, name)
              : or(eq(groups.name, name), eq(groups.externalId, externalId)),
          ),
        );
      if (taken !== undefined) {
        throw conflict(
          taken.name === name
            ? `A group named "${name}" already exists.`
            : `A group with externalId "${externalId}" already exists.`,
          { existingId: taken.id },
        );
      }
      const [row] = await tx
        .insert(groups)
        .values({ name, description, externalId, createdBy: actor.identity.id })
        .returning();
      if (row === undefined) throw new Error('Insert returned no group row.');
      await recordChange(tx, actor, {
        ...groupCreated(row),
        details: { ...groupCreated(row).details, source: options.source ?? 'MANUAL' },
      });
      return row;
    });
  }

  /**
   * Adds identities and groups to a group, all or nothing (see the class for the rules).
   * `NOT_FOUND` for an unknown member, `CONFLICT` for a disabled identity, a member already in
   * (unless idempotent) or a cycle, `BAD_USER_INPUT` for nesting too deep.
   */
  async addMembers(
    actor: Caller,
    input: GroupMembersInput,
    options: MembershipOptions = {},
  ): Promise<GroupRow> {
    const groupId = parseId(input.groupId, 'group');
    const { identityIds, groupIds } = memberIds(input);
    const reason = requireText(input.reason, 'reason', 1000);
    const now = Date.now();
    const expiresAt = resolveExpiry(input, now, 'membership');
    const field = input.expiresAt ? 'expiresAt' : 'ttlSeconds';
    if (identityIds.includes(actor.identity.id)) {
      throw forbidden(
        'Nobody adds themselves to a group; ask to join with requestAccess, or ask a manager of the group.',
      );
    }
    return runChange(this.database, actor, async (tx) => {
      const group = await lockLiveGroup(tx, groupId);
      await this.#assertMembersExist(tx, identityIds, groupIds);
      await assertNotSelfThroughGroups(tx, actor, groupIds);
      const existing = await liveMembershipsOf(tx, group.id, identityIds, groupIds);
      if (existing.length > 0 && options.idempotent !== true) {
        throw conflict(
          `${describeMember(existing[0] as GroupMemberRow)} is already a member of group "${group.name}".`,
          { existingMembershipIds: existing.map((m) => m.id) },
        );
      }
      const newIdentityIds = identityIds.filter(
        (id) => !existing.some((m) => m.memberIdentityId === id),
      );
      const newGroupIds = groupIds.filter((id) => !existing.some((m) => m.memberGroupId === id));
      if (newIdentityIds.length + newGroupIds.length === 0) return group;
      await assertNestable(tx, group, newGroupIds);
      await assertMayConferGroup(tx, actor, group, expiresAt, now, field);
      for (const id of newIdentityIds) await lockIdentityGrants(tx, id);
      const rows = await tx
        .insert(groupMembers)
        .values(
          [
            ...newIdentityIds.map((memberIdentityId) => ({ memberIdentityId })),
            ...newGroupIds.map((memberGroupId) => ({ memberGroupId })),
          ].map((member) => ({
            groupId: group.id,
            ...member,
            reason,
            source: options.source ?? 'MANUAL',
            addedBy: actor.identity.id,
            expiresAt,
          })),
        )
        .returning();
      for (const row of rows) await recordChange(tx, actor, memberAdded(group, row));
      return group;
    });
  }

  /**
   * Ends the live memberships of the members named, all or nothing: `NOT_FOUND` for one that is
   * not a member (unless idempotent), `CONFLICT` when it would leave a built-in scope without a
   * holder.
   */
  async removeMembers(
    actor: Caller,
    input: Omit<GroupMembersInput, 'ttlSeconds' | 'expiresAt'>,
    options: MembershipOptions = {},
  ): Promise<GroupRow> {
    const groupId = parseId(input.groupId, 'group');
    const { identityIds, groupIds } = memberIds(input);
    const reason = requireText(input.reason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const group = await lockLiveGroup(tx, groupId);
      const live = await liveMembershipsOf(tx, group.id, identityIds, groupIds, true);
      const missing = [
        ...identityIds.filter((id) => !live.some((m) => m.memberIdentityId === id)),
        ...groupIds.filter((id) => !live.some((m) => m.memberGroupId === id)),
      ];
      if (missing.length > 0 && options.idempotent !== true) {
        throw notFound(`${missing[0]} is not a member of group "${group.name}".`, {
          notMembers: missing,
        });
      }
      await endMemberships(tx, actor, group, live, reason);
      return group;
    });
  }

  /**
   * Deletes a group: revokes its live grants (each one the actor could revoke), ends every live
   * membership in it and of it, and marks it deleted (its history stays). `CONFLICT` when that
   * would leave a built-in scope without a holder.
   */
  async delete(actor: Caller, rawId: string, rawReason: string): Promise<GroupRow> {
    const id = parseId(rawId, 'group');
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const group = await lockLiveGroup(tx, id);
      const held = await tx
        .select()
        .from(grants)
        .where(and(eq(grants.groupId, id), liveGrant()))
        .orderBy(asc(grants.createdAt), asc(grants.id))
        .for('update');
      const beyond = await beyondRevocationAuthority(tx, actorOf(actor), held);
      if (beyond.length > 0) {
        throw forbidden(
          `Deleting group "${group.name}" revokes its grants, and you may not revoke ${beyond
            .slice(0, 5)
            .map((g) => `grant ${g.id} ("${g.scope ?? g.role}" on ${describeResource(g.resource)})`)
            .join(', ')}: you are neither their grantor nor hold them grantable.`,
          { grantIds: beyond.map((g) => g.id) },
        );
      }
      const memberships = await tx
        .select()
        .from(groupMembers)
        .where(
          and(
            or(eq(groupMembers.groupId, id), eq(groupMembers.memberGroupId, id)),
            liveMembership(),
          ),
        )
        .for('update');
      await keepRootHolders(
        tx,
        { grantIds: held.map((g) => g.id), membershipIds: memberships.map((m) => m.id) },
        `Deleting group "${group.name}"`,
      );
      await endMemberships(tx, actor, group, memberships, reason, { groupDeleted: true });
      await revokeGrantsInTx(tx, actor, held, {
        reason,
        details: { groupDeleted: true },
        lastHolder: 'refuse',
        what: () => `Deleting group "${group.name}"`,
      });
      const [row] = await tx
        .update(groups)
        .set({ deletedAt: new Date(), deletedBy: actor.identity.id })
        .where(eq(groups.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no group row.');
      await recordChange(tx, actor, groupDeleted(row, reason));
      return row;
    });
  }

  /**
   * Renames a group and/or changes its `externalId` (SCIM's `displayName` and `externalId`), with a
   * `group.renamed` event holding before and after; what is not given stays. The caller checks
   * that the actor manages the group under its current name and under the new one (`groups:write`
   * names groups, so a rename moves who manages it).
   * - a name or externalId another live group has is `CONFLICT` (SCIM 409 `uniqueness`); an
   *   invalid name `BAD_USER_INPUT`;
   * - a group fed by tokens that changes `externalId` is fed anew in the actor's name: the actor
   *   must be able to add members as `setTokenIssuer` requires, and the TOKEN memberships of the
   *   old id end.
   */
  async rename(
    actor: Caller,
    rawId: string,
    change: { readonly name?: string; readonly externalId?: string },
  ): Promise<GroupRow> {
    const id = parseId(rawId, 'group');
    const name = change.name === undefined ? undefined : requireGroupName(change.name);
    const externalId =
      change.externalId === undefined
        ? undefined
        : requireText(change.externalId, 'externalId', 200);
    return runChange(this.database, actor, async (tx) => {
      const group = await lockLiveGroup(tx, id);
      const after = { name: name ?? group.name, externalId: externalId ?? group.externalId };
      if (after.name === group.name && after.externalId === group.externalId) return group;
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`group-name:${after.name}`}))`);
      const [taken] = await tx
        .select({ id: groups.id, name: groups.name })
        .from(groups)
        .where(
          and(
            isNull(groups.deletedAt),
            sql`${groups.id} <> ${id}`,
            after.externalId === null
              ? eq(groups.name, after.name)
              : or(eq(groups.name, after.name), eq(groups.externalId, after.externalId)),
          ),
        );
      if (taken !== undefined) {
        throw conflict(
          taken.name === after.name
            ? `A group named "${after.name}" already exists.`
            : `A group with externalId "${after.externalId}" already exists.`,
          { existingId: taken.id },
        );
      }
      const refed = group.tokenIssuer !== null && after.externalId !== group.externalId;
      if (refed) {
        const now = Date.now();
        await assertMayConferGroup(tx, actor, group, new Date(now + 1000), now, 'externalId');
        await endTokenMemberships(tx, actor, group, "The group's externalId changed.");
      }
      const [row] = await tx
        .update(groups)
        .set({ ...after, ...(refed ? { tokenFedBy: actor.identity.id } : {}) })
        .where(eq(groups.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no group row.');
      await recordChange(tx, actor, groupRenamed(group, row));
      return row;
    });
  }

  /**
   * Lets the OIDC issuer `issuer` feed the group from its tokens' groups claim (see
   * `reconcileTokenMemberships`), or stops it (`issuer` null), all in the actor's name:
   * - `issuer` must be one of this server's OIDC_ISSUERS that reads a groups claim, and the group
   *   needs an `externalId` (what the claim names); `BAD_USER_INPUT` otherwise;
   * - the actor must be able to add members now (hold grantable everything the group confers, as
   *   `addMembers`), checked for a token of one second: each token's own lifetime is checked at
   *   sign-in against the scopes' `maxTtlSeconds`. A group conferring a `requiresApproval` scope is
   *   refused: a token never stands in for an approved request;
   * - stopping, or changing the issuer, ends the group's live TOKEN memberships.
   */
  async setTokenIssuer(
    actor: Caller,
    rawId: string,
    rawIssuer: string | null,
    rawReason: string,
  ): Promise<GroupRow> {
    const id = parseId(rawId, 'group');
    const issuer = rawIssuer === null ? null : requireText(rawIssuer, 'issuer', 500);
    if (issuer !== null) this.#assertFeedingIssuer(issuer);
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const group = await lockLiveGroup(tx, id);
      if (issuer !== null && group.externalId === null) {
        throw badUserInput(
          `Group "${group.name}" has no externalId; a token's groups claim names groups by it.`,
          { field: 'groupId' },
        );
      }
      if (group.tokenIssuer === issuer) return group;
      if (issuer !== null) {
        const now = Date.now();
        await assertMayConferGroup(tx, actor, group, new Date(now + 1000), now, 'issuer');
      }
      if (group.tokenIssuer !== null) {
        await endTokenMemberships(tx, actor, group, reason, { tokenFeedEnded: true });
      }
      const [row] = await tx
        .update(groups)
        .set({ tokenIssuer: issuer, tokenFedBy: issuer === null ? null : actor.identity.id })
        .where(eq(groups.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no group row.');
      await recordChange(tx, actor, tokenFeedChanged(group, row, reason));
      return row;
    });
  }

  /** `BAD_USER_INPUT` unless `issuer` is trusted here and reads a groups claim (a typo feeds nobody). */
  #assertFeedingIssuer(issuer: string): void {
    const trusted = this.oidcIssuers.find((entry) => entry.issuer === issuer);
    if (trusted === undefined) {
      const known = this.oidcIssuers.map((entry) => `"${entry.issuer}"`).join(', ');
      throw badUserInput(
        `Issuer "${issuer}" is not in this server's OIDC_ISSUERS (${known === '' ? 'none is configured' : `configured: ${known}`}); only an issuer whose tokens Keyholder accepts can feed a group.`,
        { field: 'issuer' },
      );
    }
    if (trusted.groupsClaim === null) {
      throw badUserInput(
        `Issuer "${issuer}" reads no groups claim ("groupsClaim": null in OIDC_ISSUERS), so its tokens cannot feed a group.`,
        { field: 'issuer' },
      );
    }
  }

  async list(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: GroupFilter | null | undefined,
  ): Promise<Page<GroupRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: (SQL | undefined)[] = [isNull(groups.deletedAt)];
    if (filter?.nameContains) {
      const escaped = requireText(filter.nameContains, 'filter.nameContains', 200).replace(
        /[\\%_]/g,
        (c) => `\\${c}`,
      );
      conditions.push(ilike(groups.name, `%${escaped}%`));
    }
    if (filter?.externalId) {
      conditions.push(
        eq(groups.externalId, requireText(filter.externalId, 'filter.externalId', 200)),
      );
    }
    if (cursor) conditions.push(afterCursor(groups.createdAt, groups.id, cursor));
    const rows = await this.database.db
      .select()
      .from(groups)
      .where(and(...conditions))
      .orderBy(asc(groups.createdAt), asc(groups.id))
      .limit(size + 1);
    return toPage(rows, size, encodeCursor);
  }

  /** A page of a group's live direct members, oldest first. */
  async members(
    groupId: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Page<GroupMemberRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: SQL[] = [eq(groupMembers.groupId, groupId), liveMembership()];
    if (cursor) conditions.push(afterCursor(groupMembers.addedAt, groupMembers.id, cursor) as SQL);
    const rows = await this.database.db
      .select()
      .from(groupMembers)
      .where(and(...conditions))
      .orderBy(asc(groupMembers.addedAt), asc(groupMembers.id))
      .limit(size + 1);
    return toPage(rows, size, (row) => encodeCursor({ createdAt: row.addedAt, id: row.id }));
  }

  async #assertMembersExist(
    tx: Tx,
    identityIds: readonly string[],
    groupIds: readonly string[],
  ): Promise<void> {
    if (identityIds.length > 0) {
      const found = await tx
        .select({ id: identities.id, name: identities.name, status: identities.status })
        .from(identities)
        .where(inArray(identities.id, [...identityIds]));
      const missing = identityIds.find((id) => !found.some((f) => f.id === id));
      if (missing !== undefined) throw notFound(`Identity ${missing} does not exist.`);
      const disabled = found.find((f) => f.status !== 'ACTIVE');
      if (disabled !== undefined) {
        throw conflict(`Identity "${disabled.name}" is disabled; it cannot join groups.`);
      }
    }
    if (groupIds.length > 0) {
      const found = await tx
        .select({ id: groups.id })
        .from(groups)
        .where(and(inArray(groups.id, [...groupIds]), isNull(groups.deletedAt)));
      const missing = groupIds.find((id) => !found.some((f) => f.id === id));
      if (missing !== undefined) throw notFound(`Group ${missing} does not exist.`);
    }
  }
}

function describeMember(membership: GroupMemberRow): string {
  return membership.memberIdentityId === null
    ? `Group ${membership.memberGroupId}`
    : `Identity ${membership.memberIdentityId}`;
}

/** The live memberships in `groupId` of the members named (locked `FOR UPDATE` when asked). */
async function liveMembershipsOf(
  tx: Tx,
  groupId: string,
  identityIds: readonly string[],
  groupIds: readonly string[],
  lock = false,
): Promise<GroupMemberRow[]> {
  const members: SQL[] = [];
  if (identityIds.length > 0)
    members.push(inArray(groupMembers.memberIdentityId, [...identityIds]));
  if (groupIds.length > 0) members.push(inArray(groupMembers.memberGroupId, [...groupIds]));
  const query = tx
    .select()
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), or(...members), liveMembership()));
  return lock ? query.for('update') : query;
}

/**
 * Refuses (`FORBIDDEN`) adding a group that `actor` belongs to (directly or nested): the actor
 * would gain what it confers, a grant to itself.
 */
async function assertNotSelfThroughGroups(
  tx: Tx,
  actor: Caller,
  groupIds: readonly string[],
): Promise<void> {
  if (groupIds.length === 0) return;
  const mine = await groupsReachedBy(tx, { identityId: actor.identity.id });
  const own = groupIds.find((id) => mine.some((r) => r.groupId === id));
  if (own !== undefined) {
    throw forbidden(
      `You belong to group ${own}; nesting it would add you too. Nobody adds themselves to a group.`,
    );
  }
}

/**
 * Refuses nesting that would make a cycle (`CONFLICT`) or a path from an identity longer than
 * `MAX_GROUP_DEPTH` memberships (`BAD_USER_INPUT`).
 */
async function assertNestable(tx: Tx, group: GroupRow, groupIds: readonly string[]): Promise<void> {
  if (groupIds.length === 0) return;
  const above = await groupsReachedBy(tx, { groupId: group.id });
  const depthAbove = Math.max(0, ...above.map((r) => r.depth));
  for (const id of groupIds) {
    if (id === group.id || above.some((r) => r.groupId === id)) {
      throw conflict(
        `Nesting group ${id} in group "${group.name}" would make a cycle: "${group.name}" is already in it.`,
        { field: 'groupIds', groupId: id },
      );
    }
    const below = await nestedDepthBelow(tx, id);
    const depth = below + 1 + 1 + depthAbove;
    if (depth > MAX_GROUP_DEPTH) {
      throw badUserInput(
        `Nesting group ${id} in group "${group.name}" would make a path of ${depth} memberships; groups nest at most ${MAX_GROUP_DEPTH} deep.`,
        { field: 'groupIds', groupId: id },
      );
    }
  }
}

/**
 * Refuses a membership that would hand its members more than `actor` may hand out: everything the
 * grants of `group` and of every group above it confer, under their conditions, until the
 * membership (and the path above) ends, within the scopes' policies.
 */
export async function assertMayConferGroup(
  tx: Tx,
  actor: Caller | Pick<Caller, 'identity'>,
  group: GroupRow,
  expiresAt: Date | null,
  now: number,
  field: string,
  approved = false,
): Promise<void> {
  const above = await groupsReachedBy(tx, { groupId: group.id });
  const holders = [
    { groupId: group.id, expiresAt: null as Date | null, names: [group.name] },
    ...above.map((r) => ({ groupId: r.groupId, expiresAt: r.expiresAt, names: [] as string[] })),
  ];
  const held = await tx
    .select()
    .from(grants)
    .where(
      and(
        inArray(
          grants.groupId,
          holders.map((h) => h.groupId),
        ),
        liveGrant(),
      ),
    )
    .for('share');
  if (held.length === 0) return;
  const conferred = await conferredBy(tx, held);
  for (const grant of held) {
    const targets = conferred.get(grant.id) ?? [];
    const pathEnd = holders
      .filter((h) => h.groupId === grant.groupId)
      .map((h) => h.expiresAt)
      .reduce<Date | null>((a, b) => earliest(a, b), null);
    const until = earliest(earliest(expiresAt, pathEnd), grant.expiresAt);
    assertConferrable(
      await scopeRows(tx, targets),
      until,
      now,
      field,
      `Group "${group.name}"`,
      approved,
    );
    await assertMayConfer(tx, actorOf(actor), {
      targets,
      condition: grant.condition,
      until,
      lacking: (target) =>
        `Adding members to group "${group.name}" requires holding grantable everything its grants confer, and you do not hold "${target.scope}" on ${describeResource(target.resource)}.`,
      outliving: 'This membership',
    });
  }
}

function earliest(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

/** Ends the group's live TOKEN memberships (its feed changed or stopped), as `endMemberships`. */
async function endTokenMemberships(
  tx: Tx,
  actor: Caller,
  group: GroupRow,
  reason: string,
  details?: Record<string, unknown>,
): Promise<void> {
  const fed = await tx
    .select()
    .from(groupMembers)
    .where(
      and(eq(groupMembers.groupId, group.id), eq(groupMembers.source, 'TOKEN'), liveMembership()),
    )
    .for('update');
  await endMemberships(tx, actor, group, fed, reason, details);
}

/**
 * Ends `memberships` (live, locked by the caller) of `group`: no-lockout checked together, one
 * `group.member_removed` event each.
 */
export async function endMemberships(
  tx: Tx,
  actor: Caller | null,
  group: Pick<GroupRow, 'id' | 'name'>,
  memberships: readonly GroupMemberRow[],
  reason: string,
  more: Record<string, unknown> = {},
  /** The instant the memberships end (an access review records the same one). */
  at: Date = new Date(),
): Promise<void> {
  if (memberships.length === 0) return;
  await keepRootHolders(
    tx,
    { membershipIds: memberships.map((m) => m.id) },
    `Removing members from group "${group.name}"`,
  );
  await tx
    .update(groupMembers)
    .set({ removedAt: at, removedBy: actor?.identity.id ?? null, removeReason: reason })
    .where(
      inArray(
        groupMembers.id,
        memberships.map((m) => m.id),
      ),
    );
  for (const membership of memberships) {
    await recordChange(tx, actor, memberRemoved(group, membership, reason, more));
  }
}

/**
 * Ends every live membership of identity `identityId` (the kill switch, disabling, SCIM
 * deactivation), one event each; the caller checks no-lockout for the identity as a whole.
 */
export async function endMembershipsOf(
  tx: Tx,
  actor: Caller | null,
  identityId: string,
  reason: string,
  more: Record<string, unknown> = {},
): Promise<GroupMemberRow[]> {
  const memberships = await tx
    .select({ membership: groupMembers, group: { id: groups.id, name: groups.name } })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.memberIdentityId, identityId), liveMembership()))
    .for('update', { of: groupMembers });
  if (memberships.length === 0) return [];
  await tx
    .update(groupMembers)
    .set({ removedAt: new Date(), removedBy: actor?.identity.id ?? null, removeReason: reason })
    .where(
      inArray(
        groupMembers.id,
        memberships.map((m) => m.membership.id),
      ),
    );
  for (const { membership, group } of memberships) {
    await recordChange(tx, actor, memberRemoved(group, membership, reason, more));
  }
  return memberships.map((m) => m.membership);
}

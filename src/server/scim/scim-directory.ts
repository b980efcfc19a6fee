import { and, asc, count, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  type GroupRow,
  groupMembers,
  groups,
  type IdentityRow,
  identities,
} from '../../db/tables.js';
import { liveMembership } from '../../modules/grants/live-grants.js';
import { isUuid } from '../../modules/shared/validate.js';

/** The attribute that marks an identity SCIM deleted: disabled, its history kept, no longer served. */
export const SCIM_DELETED_ATTRIBUTE = 'scimDeletedAt';

/** A live direct member of a group, as SCIM lists it. */
export interface ScimMember {
  readonly value: string;
  readonly type: 'User' | 'Group';
  readonly display: string;
}

/** A page of rows and how many match in all. */
export interface ScimPage<T> {
  readonly total: number;
  readonly rows: readonly T[];
}

const servedUser = (): SQL =>
  and(
    eq(identities.kind, 'USER'),
    sql`(${identities.attributes} ->> ${SCIM_DELETED_ATTRIBUTE}) is null`,
  ) as SQL;

/**
 * What SCIM reads (writes go through the identity and group services): USER identities not SCIM
 * deleted, live groups, and groups' live direct members. Lookups by name and display name are
 * case-insensitive, as SCIM's `userName` and `displayName` are.
 */
export class ScimDirectory {
  constructor(private readonly database: Database) {}

  async user(id: string): Promise<IdentityRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.database.db
      .select()
      .from(identities)
      .where(and(eq(identities.id, id.toLowerCase()), servedUser()));
    return row ?? null;
  }

  /** The USER identity named `name` (case-insensitively) that SCIM deleted, if any. */
  async deletedUser(name: string): Promise<IdentityRow | null> {
    const [row] = await this.database.db
      .select()
      .from(identities)
      .where(
        and(
          eq(identities.kind, 'USER'),
          sql`lower(${identities.name}) = lower(${name})`,
          sql`(${identities.attributes} ->> ${SCIM_DELETED_ATTRIBUTE}) is not null`,
        ),
      );
    return row ?? null;
  }

  async users(
    filter: { attribute: 'userName' | 'externalId' | 'id'; value: string } | null,
    offset: number,
    limit: number,
  ): Promise<ScimPage<IdentityRow>> {
    const where = and(servedUser(), filter === null ? undefined : this.#userCondition(filter));
    const [total] = await this.database.db.select({ n: count() }).from(identities).where(where);
    const rows =
      limit === 0
        ? []
        : await this.database.db
            .select()
            .from(identities)
            .where(where)
            .orderBy(asc(identities.createdAt), asc(identities.id))
            .offset(offset)
            .limit(limit);
    return { total: total?.n ?? 0, rows };
  }

  #userCondition(filter: { attribute: string; value: string }): SQL {
    if (filter.attribute === 'id') {
      return isUuid(filter.value) ? eq(identities.id, filter.value.toLowerCase()) : sql`false`;
    }
    if (filter.attribute === 'externalId') return eq(identities.externalId, filter.value);
    return sql`lower(${identities.name}) = lower(${filter.value})`;
  }

  async group(id: string): Promise<GroupRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.database.db
      .select()
      .from(groups)
      .where(and(eq(groups.id, id.toLowerCase()), isNull(groups.deletedAt)));
    return row ?? null;
  }

  async groups(
    filter: { attribute: 'displayName' | 'externalId' | 'id'; value: string } | null,
    offset: number,
    limit: number,
  ): Promise<ScimPage<GroupRow>> {
    let condition: SQL | undefined;
    if (filter?.attribute === 'id') {
      condition = isUuid(filter.value) ? eq(groups.id, filter.value.toLowerCase()) : sql`false`;
    } else if (filter?.attribute === 'externalId') {
      condition = eq(groups.externalId, filter.value);
    } else if (filter?.attribute === 'displayName') {
      condition = sql`lower(${groups.name}) = lower(${filter.value})`;
    }
    const where = and(isNull(groups.deletedAt), condition);
    const [total] = await this.database.db.select({ n: count() }).from(groups).where(where);
    const rows =
      limit === 0
        ? []
        : await this.database.db
            .select()
            .from(groups)
            .where(where)
            .orderBy(asc(groups.createdAt), asc(groups.id))
            .offset(offset)
            .limit(limit);
    return { total: total?.n ?? 0, rows };
  }

  /** The live direct members of each group named, oldest first. */
  async members(groupIds: readonly string[]): Promise<Map<string, ScimMember[]>> {
    const found = new Map<string, ScimMember[]>(groupIds.map((id) => [id, []]));
    if (groupIds.length === 0) return found;
    const memberGroup = sql`(select name from ${groups} where ${groups.id} = ${groupMembers.memberGroupId})`;
    const rows = await this.database.db
      .select({
        groupId: groupMembers.groupId,
        identityId: groupMembers.memberIdentityId,
        memberGroupId: groupMembers.memberGroupId,
        identityName: identities.name,
        groupName: sql<string | null>`${memberGroup}`,
      })
      .from(groupMembers)
      .leftJoin(identities, eq(identities.id, groupMembers.memberIdentityId))
      .where(and(inArray(groupMembers.groupId, [...groupIds]), liveMembership()))
      .orderBy(asc(groupMembers.addedAt), asc(groupMembers.id));
    for (const row of rows) {
      const member: ScimMember =
        row.identityId !== null
          ? { value: row.identityId, type: 'User', display: row.identityName ?? row.identityId }
          : {
              value: row.memberGroupId ?? '',
              type: 'Group',
              display: row.groupName ?? row.memberGroupId ?? '',
            };
      found.get(row.groupId)?.push(member);
    }
    return found;
  }

  /** Which of `ids` are identities and which live groups; the rest are unknown. */
  async classify(
    ids: readonly string[],
  ): Promise<{ identityIds: string[]; groupIds: string[]; unknown: string[] }> {
    const valid = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    const people =
      valid.length === 0
        ? []
        : await this.database.db
            .select({ id: identities.id })
            .from(identities)
            .where(inArray(identities.id, valid));
    const teams =
      valid.length === 0
        ? []
        : await this.database.db
            .select({ id: groups.id })
            .from(groups)
            .where(and(inArray(groups.id, valid), isNull(groups.deletedAt)));
    const identityIds = people.map((p) => p.id);
    const groupIds = teams.map((t) => t.id);
    const unknown = ids.filter(
      (id) => !identityIds.includes(id.toLowerCase()) && !groupIds.includes(id.toLowerCase()),
    );
    return { identityIds, groupIds, unknown };
  }
}

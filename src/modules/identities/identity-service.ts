import { isDeepStrictEqual } from 'node:util';
import { and, asc, eq, ilike, inArray, isNull, or, type SQL } from 'drizzle-orm';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  apiKeys,
  type GrantRow,
  grants,
  groupMembers,
  groups,
  type IdentityRow,
  identities,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { actorOf, assertMayConfer, conferredBy, loadAuthority } from '../grants/grant-authority.js';
import { liveGrant, liveMembership, loadLiveGrants } from '../grants/live-grants.js';
import { keepRootHolders } from '../grants/root-holders.js';
import { groupsReachedBy } from '../groups/group-graph.js';
import { endMemberships, endMembershipsOf } from '../groups/group-service.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { sqlState, UNIQUE_VIOLATION } from '../shared/db-errors.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  type Page,
  pageSize,
  toPage,
} from '../shared/pagination.js';
import { optionalText, parseId, requireName, requireText } from '../shared/validate.js';
import { assertMaySetAttributes } from './attribute-authority.js';
import { inSameParty } from './party.js';
import { requireAttributes } from './require-attributes.js';
import { type RevokedOwnedAccess, revokeOwnedAccess } from './revoke-owned-access.js';

export const IDENTITY_KINDS = ['USER', 'SERVICE', 'AGENT'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface CreateIdentityInput {
  readonly name: string;
  readonly kind: IdentityKind;
  readonly externalId?: string | null;
  readonly ownerId?: string | null;
  /** What conditions read as `identity.attributes` (see `requireAttributes`). @default {} */
  readonly attributes?: unknown;
}

export interface IdentityFilter {
  readonly kind?: IdentityKind | null;
  readonly status?: 'ACTIVE' | 'DISABLED' | null;
  readonly nameContains?: string | null;
  readonly externalId?: string | null;
}

/** Identities: creation, disabling and listing. Authorization is the directive's job. */
export class IdentityService {
  constructor(private readonly database: Database) {}

  async create(actor: Caller, input: CreateIdentityInput): Promise<IdentityRow> {
    const name = requireName(input.name, 'Identity name', 200);
    const externalId = optionalText(input.externalId, 'externalId', 512);
    if (!IDENTITY_KINDS.includes(input.kind))
      throw badUserInput(`Identity kind "${input.kind}" is not known.`);
    const attributes =
      input.attributes === null || input.attributes === undefined
        ? {}
        : requireAttributes(input.attributes, 'input.attributes');
    const requestedOwner =
      input.ownerId === null || input.ownerId === undefined
        ? null
        : parseId(input.ownerId, 'owner');
    try {
      return await runChange(this.database, actor, async (tx) => {
        const ownerId = await chooseOwner(tx, actor, input.kind, requestedOwner);
        if (Object.keys(attributes).length > 0) {
          await assertMaySetAttributes(tx, actor, null, name);
        }
        const [row] = await tx
          .insert(identities)
          .values({
            name,
            kind: input.kind,
            externalId,
            ownerId,
            attributes,
            createdBy: actor.identity.id,
          })
          .returning();
        if (row === undefined) throw new Error('Insert returned no identity row.');
        await recordChange(tx, actor, {
          action: 'identity.created',
          subjectId: row.id,
          details: {
            after: {
              name,
              kind: input.kind,
              externalId,
              ownerId,
              ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
            },
          },
        });
        return row;
      });
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) throw await this.#taken(name, externalId);
      throw error;
    }
  }

  /** The `CONFLICT` of a name or externalId another identity has (after a unique violation). */
  async #taken(name: string, externalId: string | null, except?: string): Promise<Error> {
    const found = await this.database.db
      .select({ id: identities.id, name: identities.name })
      .from(identities)
      .where(
        externalId === null
          ? eq(identities.name, name)
          : or(eq(identities.name, name), eq(identities.externalId, externalId)),
      );
    const existing = found.filter((e) => e.id !== except);
    const byName = existing.find((e) => e.name === name);
    return byName
      ? conflict(`An identity named "${name}" already exists.`, { existingId: byName.id })
      : conflict(`An identity with externalId "${externalId}" already exists.`, {
          existingId: existing[0]?.id,
        });
  }

  /** Every active grant and live key of the identities `actor` owns (see `revokeOwnedAccess`). */
  revokeOwnedAccess(
    actor: Caller,
    reason: string,
    identityId: string | null | undefined,
  ): Promise<RevokedOwnedAccess> {
    return revokeOwnedAccess(this.database, actor, reason, identityId);
  }

  async disable(actor: Caller, rawId: string): Promise<IdentityRow> {
    const id = parseId(rawId, 'identity');
    if (id === actor.identity.id) {
      throw badUserInput('You cannot disable your own identity; ask another administrator.');
    }
    return runChange(this.database, actor, async (tx) => {
      const current = await lockIdentity(tx, id);
      if (current.status === 'DISABLED') return current;
      await keepRootHolders(tx, { identityIds: [id] }, `Disabling "${current.name}"`);
      const [row] = await tx
        .update(identities)
        .set({ status: 'DISABLED', disabledAt: new Date(), disabledBy: actor.identity.id })
        .where(eq(identities.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no identity row.');
      await recordChange(tx, actor, {
        action: 'identity.disabled',
        subjectId: id,
        details: { before: { status: current.status }, after: { status: 'DISABLED' } },
      });
      await endMembershipsOf(tx, actor, id, `Identity "${current.name}" was disabled.`, {
        identityDisabled: true,
      });
      return row;
    });
  }

  /**
   * Re-enables a disabled identity, with an `identity.enabled` event saying why. What it held does
   * not come back by itself: its API keys still live are revoked (it signs in with new ones), its
   * group memberships ended when it was disabled, and its grants still live authorize again only
   * if `actor` could hand each of them out now (`assertMayConfer`): otherwise `FORBIDDEN` naming
   * them (revoke them first, or ask someone who holds them). Enabling an active identity changes
   * nothing.
   */
  async enable(actor: Caller, rawId: string, rawReason: string): Promise<IdentityRow> {
    const id = parseId(rawId, 'identity');
    const reason = requireText(rawReason, 'reason', 1000);
    if (id === actor.identity.id) {
      throw badUserInput('You cannot enable your own identity; ask another administrator.');
    }
    return runChange(this.database, actor, async (tx) => {
      const current = await lockIdentity(tx, id);
      if (current.status === 'ACTIVE') return current;
      await assertMayHandOver(
        tx,
        actor,
        id,
        false,
        (grant, target) =>
          `Enabling "${current.name}" would give back its grant ${grant.id} of "${target.scope}" on ${describeResource(target.resource)}, which you do not hold grantable; revoke it first, or ask an identity that holds it.`,
        (grant) => `Enabling "${current.name}" with its grant ${grant.id}`,
      );
      const keys = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date(), revokedBy: actor.identity.id })
        .where(and(eq(apiKeys.identityId, id), isNull(apiKeys.revokedAt)))
        .returning();
      for (const key of keys) {
        await recordChange(tx, actor, {
          action: 'apikey.revoked',
          subjectId: key.id,
          details: {
            before: { identityId: id, prefix: key.prefix },
            reason,
            identityEnabled: true,
          },
        });
      }
      const [row] = await tx
        .update(identities)
        .set({ status: 'ACTIVE', disabledAt: null, disabledBy: null })
        .where(eq(identities.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no identity row.');
      await recordChange(tx, actor, {
        action: 'identity.enabled',
        subjectId: id,
        details: {
          before: { status: 'DISABLED' },
          after: { status: 'ACTIVE' },
          reason,
          revokedApiKeyIds: keys.map((k) => k.id),
        },
      });
      return row;
    });
  }

  /**
   * Renames an identity and/or changes its `externalId` (what SCIM's `userName` and `externalId`
   * are), with an `identity.renamed` event holding before and after; what is not given stays.
   * - a name taken by another identity, or an externalId, is `CONFLICT` (SCIM 409 `uniqueness`);
   *   an invalid one `BAD_USER_INPUT`;
   * - a new non-null `externalId` changes who signs in as the identity with an identity-provider
   *   token, handing them everything it holds (directly and through its groups): so `actor` must
   *   be able to hand out each of those grants now (`assertMayConfer`), else `FORBIDDEN` naming
   *   one. Its TOKEN memberships end (the new subject's next token brings its own).
   * Changing nothing changes nothing and writes no event.
   */
  async rename(
    actor: Caller,
    rawId: string,
    change: { readonly name?: string; readonly externalId?: string | null },
  ): Promise<IdentityRow> {
    const id = parseId(rawId, 'identity');
    const name =
      change.name === undefined ? undefined : requireName(change.name, 'Identity name', 200);
    const externalId =
      change.externalId === undefined
        ? undefined
        : optionalText(change.externalId, 'externalId', 512);
    try {
      return await runChange(this.database, actor, async (tx) => {
        const current = await lockIdentity(tx, id);
        const after = {
          name: name ?? current.name,
          externalId: externalId === undefined ? current.externalId : externalId,
        };
        if (after.name === current.name && after.externalId === current.externalId) return current;
        if (after.externalId !== current.externalId && after.externalId !== null) {
          await assertMayHandOver(
            tx,
            actor,
            id,
            true,
            (grant, target) =>
              `Changing the externalId of "${current.name}" hands what it holds to whoever signs in as "${after.externalId}", and you do not hold "${target.scope}" on ${describeResource(target.resource)} grantable (grant ${grant.id}).`,
            () => `Changing the externalId of "${current.name}"`,
          );
        }
        if (after.externalId !== current.externalId) {
          await endTokenMembershipsOf(tx, actor, id, "The identity's externalId changed.");
        }
        const [row] = await tx
          .update(identities)
          .set(after)
          .where(eq(identities.id, id))
          .returning();
        if (row === undefined) throw new Error('Update returned no identity row.');
        await recordChange(tx, actor, {
          action: 'identity.renamed',
          subjectId: id,
          details: {
            before: { name: current.name, externalId: current.externalId },
            after,
          },
        });
        return row;
      });
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) {
        const current = await this.database.db
          .select({ name: identities.name, externalId: identities.externalId })
          .from(identities)
          .where(eq(identities.id, id));
        const before = current[0];
        throw await this.#taken(
          name ?? before?.name ?? '',
          (externalId === undefined ? before?.externalId : externalId) ?? null,
          id,
        );
      }
      throw error;
    }
  }

  /**
   * Replaces the identity's attributes (what conditions read as `identity.attributes`), with an
   * `identity.attributes_changed` event holding before and after; the next request's decisions
   * see them. Invalid attributes are `BAD_USER_INPUT`, an unknown identity `NOT_FOUND`; setting
   * the attributes it already has changes nothing and writes no event.
   */
  async setAttributes(actor: Caller, rawId: string, rawAttributes: unknown): Promise<IdentityRow> {
    const id = parseId(rawId, 'identity');
    const attributes = requireAttributes(rawAttributes, 'attributes');
    return runChange(this.database, actor, async (tx) => {
      const current = await lockIdentity(tx, id);
      if (isDeepStrictEqual(current.attributes, attributes)) return current;
      await assertMaySetAttributes(tx, actor, id, current.name);
      const [row] = await tx
        .update(identities)
        .set({ attributes })
        .where(eq(identities.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no identity row.');
      await recordChange(tx, actor, {
        action: 'identity.attributes_changed',
        subjectId: id,
        // Conditions read attributes: a change is authority changing hands, flagged for alerts.
        details: {
          before: { attributes: current.attributes },
          after: { attributes },
          sensitive: true,
        },
      });
      return row;
    });
  }

  async list(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: IdentityFilter | null | undefined,
  ): Promise<Page<IdentityRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: SQL[] = [];
    if (filter?.kind) conditions.push(eq(identities.kind, filter.kind));
    if (filter?.status) conditions.push(eq(identities.status, filter.status));
    if (filter?.externalId) {
      conditions.push(
        eq(identities.externalId, requireText(filter.externalId, 'filter.externalId', 512)),
      );
    }
    if (filter?.nameContains) {
      const escaped = requireText(filter.nameContains, 'filter.nameContains', 200).replace(
        /[\\%_]/g,
        (c) => `\\${c}`,
      );
      conditions.push(ilike(identities.name, `%${escaped}%`));
    }
    if (cursor) conditions.push(afterCursor(identities.createdAt, identities.id, cursor));
    const rows = await this.database.db
      .select()
      .from(identities)
      .where(and(...conditions))
      .orderBy(asc(identities.createdAt), asc(identities.id))
      .limit(size + 1);
    return toPage(rows, size, encodeCursor);
  }
}

/**
 * Refuses (`FORBIDDEN`, `lacking` naming one) unless `actor` could hand out now every live grant
 * identity `id` holds directly and, with `throughGroups`, through the groups it belongs to (until
 * the membership path ends): what giving the identity to someone else, or back, hands over.
 */
async function assertMayHandOver(
  tx: Tx,
  actor: Caller,
  id: string,
  throughGroups: boolean,
  lacking: (grant: GrantRow, target: { scope: string; resource: string | null }) => string,
  outliving: (grant: GrantRow) => string,
): Promise<void> {
  const paths = throughGroups ? await groupsReachedBy(tx, { identityId: id }) : [];
  const held = await tx
    .select()
    .from(grants)
    .where(
      and(
        paths.length === 0
          ? eq(grants.identityId, id)
          : or(
              eq(grants.identityId, id),
              inArray(
                grants.groupId,
                paths.map((p) => p.groupId),
              ),
            ),
        liveGrant(),
      ),
    )
    .for('share');
  const conferred = await conferredBy(tx, held);
  for (const grant of held) {
    const pathEnd =
      grant.groupId === null
        ? null
        : paths
            .filter((p) => p.groupId === grant.groupId)
            .map((p) => p.expiresAt)
            .reduce<Date | null>((a, b) => (a === null || (b !== null && b < a) ? b : a), null);
    const until =
      pathEnd === null
        ? grant.expiresAt
        : grant.expiresAt === null || pathEnd < grant.expiresAt
          ? pathEnd
          : grant.expiresAt;
    await assertMayConfer(tx, actorOf(actor), {
      targets: conferred.get(grant.id) ?? [],
      condition: grant.condition,
      until,
      lacking: (target) => lacking(grant, target),
      outliving: outliving(grant),
    });
  }
}

/** The identity's row, locked `FOR UPDATE` until the transaction ends; `NOT_FOUND` when unknown. */
async function lockIdentity(tx: Tx, id: string): Promise<IdentityRow> {
  const [current] = await tx.select().from(identities).where(eq(identities.id, id)).for('update');
  if (current === undefined) throw notFound(`Identity ${id} does not exist.`);
  return current;
}

/**
 * The owner of a new identity. USER: none (giving one is BAD_USER_INPUT). SERVICE and AGENT: the
 * one asked for, else the caller, else (an agent creating) the caller's own owner. The owner must
 * exist (NOT_FOUND), be active, and not be an agent (BAD_USER_INPUT): an owned agent is capped by
 * its owner's grants, one level deep. Locked FOR SHARE so it cannot be disabled meanwhile.
 * Ownership is authority (an owner approves nothing of its own party's and caps its agents), so an
 * owner outside the caller's own party needs the caller to hold grantable, unconditionally, all
 * the owner holds (FORBIDDEN otherwise): nobody is made an owner without someone who could have
 * given them everything they hold. An agent creates only agents (FORBIDDEN otherwise).
 */
async function chooseOwner(
  tx: Tx,
  actor: Caller,
  kind: IdentityKind,
  requested: string | null,
): Promise<string | null> {
  if (actor.identity.kind === 'AGENT' && kind !== 'AGENT') {
    // What it handed a service would outlive its owner's loss of it; agents it makes stay capped.
    throw forbidden(
      `An agent creates only agents (owned, like it, by its owner, and capped by what the owner holds); a ${kind} it created would keep what it was given after the owner lost it.`,
      { field: 'kind' },
    );
  }
  if (kind === 'USER') {
    if (requested !== null) {
      throw badUserInput('A USER identity has no owner; ownerId is for SERVICE and AGENT.', {
        field: 'ownerId',
      });
    }
    return null;
  }
  const caller = actor.identity;
  const ownerId = requested ?? (caller.kind === 'AGENT' ? caller.ownerId : caller.id);
  if (ownerId === null) {
    throw badUserInput(
      `A ${kind} identity needs an owner, and the calling agent has none to pass on: give ownerId.`,
      { field: 'ownerId' },
    );
  }
  const [owner] = await tx
    .select({ name: identities.name, kind: identities.kind, status: identities.status })
    .from(identities)
    .where(eq(identities.id, ownerId))
    .for('share');
  if (owner === undefined) throw notFound(`Owner ${ownerId} does not exist.`, { field: 'ownerId' });
  if (owner.kind === 'AGENT') {
    throw badUserInput(`Identity "${owner.name}" is an agent; agents cannot own identities.`, {
      field: 'ownerId',
    });
  }
  if (owner.status !== 'ACTIVE') {
    throw badUserInput(`Identity "${owner.name}" is disabled and cannot own identities.`, {
      field: 'ownerId',
    });
  }
  if (!(await inSameParty(tx, caller.id, [ownerId]))) {
    // Every TOKEN membership of the owner's too: an owner signed in with a token acts with them.
    const held =
      (await loadLiveGrants(tx, [ownerId], { lock: true, tokenMemberships: 'all' })).grants.get(
        ownerId,
      ) ?? [];
    const authority = await loadAuthority(tx, actorOf(actor), [
      ...new Set(held.map((g) => g.scope)),
    ]);
    const beyond = held.filter((g) => authority.unconditionallyOver(g).length === 0);
    if (beyond.length > 0) {
      throw forbidden(
        `Making "${owner.name}" the owner of a new ${kind} needs holding grantable, without a condition, everything "${owner.name}" holds, and you do not hold ${[...new Set(beyond.map((g) => `"${g.scope}"`))].join(', ')} so: ask "${owner.name}" to create it.`,
        { field: 'ownerId' },
      );
    }
  }
  return ownerId;
}

/** Ends the identity's live TOKEN memberships (its token subject changed), one event each. */
async function endTokenMembershipsOf(
  tx: Tx,
  actor: Caller,
  identityId: string,
  reason: string,
): Promise<void> {
  const rows = await tx
    .select({ membership: groupMembers, group: { id: groups.id, name: groups.name } })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(
      and(
        eq(groupMembers.memberIdentityId, identityId),
        eq(groupMembers.source, 'TOKEN'),
        liveMembership(),
      ),
    )
    .for('update', { of: groupMembers });
  for (const { membership, group } of rows) {
    await endMemberships(tx, actor, group, [membership], reason);
  }
}

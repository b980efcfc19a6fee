import { isDeepStrictEqual } from 'node:util';
import { and, asc, eq, ilike, isNull, or, type SQL } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client.js';
import { apiKeys, grants, type IdentityRow, identities } from '../../db/tables.js';
import { badUserInput, conflict, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { actorOf, assertMayConfer, conferredBy } from '../grants/grant-authority.js';
import { liveGrant } from '../grants/live-grants.js';
import { keepRootHolders } from '../grants/root-holders.js';
import { endMembershipsOf } from '../groups/group-service.js';
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
import { optionalText, parseId, requireText } from '../shared/validate.js';
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
    const name = requireText(input.name, 'Identity name', 200);
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
      if (sqlState(error) === UNIQUE_VIOLATION) {
        const existing = await this.database.db
          .select({ id: identities.id, name: identities.name })
          .from(identities)
          .where(
            externalId === null
              ? eq(identities.name, name)
              : or(eq(identities.name, name), eq(identities.externalId, externalId)),
          );
        const byName = existing.find((e) => e.name === name);
        throw byName
          ? conflict(`An identity named "${name}" already exists.`, { existingId: byName.id })
          : conflict(`An identity with externalId "${externalId}" already exists.`, {
              existingId: existing[0]?.id,
            });
      }
      throw error;
    }
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
      const dormant = await tx
        .select()
        .from(grants)
        .where(and(eq(grants.identityId, id), liveGrant()))
        .for('share');
      const conferred = await conferredBy(tx, dormant);
      for (const grant of dormant) {
        await assertMayConfer(tx, actorOf(actor), {
          targets: conferred.get(grant.id) ?? [],
          condition: grant.condition,
          until: grant.expiresAt,
          lacking: (target) =>
            `Enabling "${current.name}" would give back its grant ${grant.id} of "${target.scope}" on ${describeResource(target.resource)}, which you do not hold grantable; revoke it first, or ask an identity that holds it.`,
          outliving: `Enabling "${current.name}" with its grant ${grant.id}`,
        });
      }
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
      const [row] = await tx
        .update(identities)
        .set({ attributes })
        .where(eq(identities.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no identity row.');
      await recordChange(tx, actor, {
        action: 'identity.attributes_changed',
        subjectId: id,
        details: { before: { attributes: current.attributes }, after: { attributes } },
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
    if (filter?.externalId) conditions.push(eq(identities.externalId, filter.externalId));
    if (filter?.nameContains) {
      const escaped = filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`);
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
 * The owner of a new identity. USER: none (giving one is BAD_USER_INPUT). SERVICE and AGENT: the
 * one asked for, else the caller, else (an agent creating) the caller's own owner. The owner must
 * exist (NOT_FOUND), be active, and not be an agent (BAD_USER_INPUT): an owned agent is capped by
 * its owner's grants, one level deep. Locked FOR SHARE so it cannot be disabled meanwhile.
 */
/** The identity's row, locked `FOR UPDATE` until the transaction ends; `NOT_FOUND` when unknown. */
async function lockIdentity(tx: Tx, id: string): Promise<IdentityRow> {
  const [current] = await tx.select().from(identities).where(eq(identities.id, id)).for('update');
  if (current === undefined) throw notFound(`Identity ${id} does not exist.`);
  return current;
}

async function chooseOwner(
  tx: Tx,
  actor: Caller,
  kind: IdentityKind,
  requested: string | null,
): Promise<string | null> {
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
  return ownerId;
}

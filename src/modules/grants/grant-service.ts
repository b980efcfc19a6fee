import { and, arrayContains, asc, eq, not, type SQL } from 'drizzle-orm';
import { requireCondition } from 'keyholder-directive/conditions/compile-condition.js';
import {
  badUserInput,
  conflict,
  forbidden,
  invariant,
  notFound,
} from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { type GrantRow, grants, identities, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { groupToGrant } from '../groups/group-to-grant.js';
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
  parseId,
  requireRoleName,
  requireScopeName,
  requireText,
  resolveExpiry,
} from '../shared/validate.js';
import { describeResource } from './describe-resource.js';
import {
  actorOf,
  assertMayConfer,
  assertMayDelegate,
  assertMayRevoke,
  type Conferral,
  conferredTargets,
} from './grant-authority.js';
import { grantCreated } from './grant-events.js';
import { grantsRestingOn } from './grants-resting-on.js';
import { findLiveDuplicate, liveGrant } from './live-grants.js';
import { lockIdentityGrants } from './lock-identity-grants.js';
import { parseResourcePattern } from './resource-pattern.js';
import { type RevokedEverything, revokeAllGrants } from './revoke-all-grants.js';
import { revokeGrantsInTx } from './revoke-grant.js';
import { type HolderPage, type WhoCanQuery, whoCan } from './who-can.js';

export interface GrantInput {
  /** Who holds it: an identity, or every member of a group (exactly one of the two). */
  readonly identityId?: string | null;
  readonly groupId?: string | null;
  /** What it gives: a scope, or every scope of a role (exactly one of the two). */
  readonly scope?: string | null;
  readonly role?: string | null;
  readonly resource?: string | null;
  readonly reason: string;
  readonly ttlSeconds?: number | null;
  readonly expiresAt?: Date | null;
  readonly grantable?: boolean | null;
  /** A CEL condition the grant authorizes under (see `requireCondition`); omitted or blank: none. */
  readonly condition?: string | null;
}

/** `Identity "<name>"` of an active identity, to receive a grant; `NOT_FOUND` or `CONFLICT` else. */
async function activeIdentityName(tx: Tx, identityId: string): Promise<string> {
  const [target] = await tx.select().from(identities).where(eq(identities.id, identityId));
  if (target === undefined) throw notFound(`Identity ${identityId} does not exist.`);
  if (target.status === 'DISABLED') {
    throw conflict(`Identity "${target.name}" is disabled; it cannot receive grants.`);
  }
  return `Identity "${target.name}"`;
}

/** One of two inputs, exactly: `BAD_USER_INPUT` naming both when neither or both are given. */
function exactlyOne<A extends string, B extends string>(
  a: [A, string | null | undefined],
  b: [B, string | null | undefined],
): { readonly field: A | B; readonly value: string } {
  const given = [a, b].filter(([, value]) => value !== null && value !== undefined);
  const [only] = given;
  if (given.length !== 1 || only === undefined) {
    throw badUserInput(`Give exactly one of ${a[0]} and ${b[0]}.`, { field: a[0] });
  }
  return { field: only[0], value: only[1] as string };
}

export interface GrantFilter {
  readonly identityId?: string | null;
  readonly groupId?: string | null;
  readonly role?: string | null;
  readonly scope?: string | null;
  readonly resource?: string | null;
  readonly grantedBy?: string | null;
  readonly active?: boolean | null;
}

/**
 * Grants and revocations with Keyholder's delegation rules:
 * - granting S (on R) needs a live grantable grant of S covering R, and never outlives it;
 * - nobody grants to themselves;
 * - revoking needs to be the grantor or to hold S grantable covering the grant's resource.
 */
/** The most `Grant.authorizedGrants` lists (a delegator's direct delegations of one grant). */
const MAX_AUTHORIZED_GRANTS = 1000;

/** Whether the scope of `grant` makes revocation cascade by default (a role's never does). */
async function cascadesByPolicy(tx: Tx, grant: GrantRow): Promise<boolean> {
  if (grant.scope === null) return false;
  const [row] = await tx
    .select({ cascade: scopes.cascadeRevocation })
    .from(scopes)
    .where(eq(scopes.name, grant.scope));
  return row?.cascade ?? false;
}

export class GrantService {
  constructor(private readonly database: Database) {}

  /** A page of the active identities that can use `scope` on `resource` now (see `whoCan`). */
  whoCan(query: WhoCanQuery): Promise<HolderPage> {
    return whoCan(this.database, query);
  }

  /** The kill switch (see `revokeAllGrants`). */
  revokeAll(actor: Caller, identityId: string, reason: string): Promise<RevokedEverything> {
    return revokeAllGrants(this.database, actor, identityId, reason);
  }

  /**
   * Grants a scope or a role to an identity or a group, with the delegation rules of
   * `assertMayConfer` on everything it confers (a role: each of its scopes on the grant's
   * resource), the scopes' policies (`assertConferrable`), and never to oneself (nor to a group
   * one belongs to: that would be a grant to oneself).
   */
  async grant(
    actor: Caller,
    input: GrantInput,
    /** Whether one of the actor's grants holds for it now (see `Conferral.holdsNow`). */
    holdsNow?: Conferral['holdsNow'],
  ): Promise<GrantRow> {
    const holder = exactlyOne(['identityId', input.identityId], ['groupId', input.groupId]);
    const holderId = parseId(holder.value, holder.field === 'identityId' ? 'identity' : 'group');
    const what = exactlyOne(['scope', input.scope], ['role', input.role]);
    if (what.field === 'scope') requireScopeName(what.value, 'scope');
    else requireRoleName(what.value, 'role');
    const resource = parseResourcePattern(input.resource);
    const reason = requireText(input.reason, 'reason', 1000);
    const now = Date.now();
    const expiresAt = resolveExpiry(input, now, 'grant');
    const grantable = input.grantable ?? false;
    const condition = requireCondition(input.condition, 'condition');
    if (holderId === actor.identity.id) {
      throw forbidden(
        'An identity cannot grant to itself; ask another identity that holds the scope grantable.',
      );
    }

    return runChange(this.database, actor, async (tx) => {
      await lockIdentityGrants(tx, holderId);
      const holderName =
        holder.field === 'identityId'
          ? await activeIdentityName(tx, holderId)
          : await groupToGrant(tx, holderId, actor);
      const scope = what.field === 'scope' ? what.value : null;
      const role = what.field === 'role' ? what.value : null;
      const targets = await conferredTargets(tx, { scope, role, resource });
      const field = input.expiresAt ? 'expiresAt' : 'ttlSeconds';
      assertConferrable(
        await scopeRows(tx, targets),
        expiresAt,
        now,
        field,
        role === null ? undefined : `Role "${role}"`,
      );
      const authority =
        role === null && scope !== null
          ? await assertMayDelegate(tx, actorOf(actor), {
              scope,
              resource,
              condition,
              expiresAt,
              ...(holdsNow === undefined ? {} : { holdsNow }),
            })
          : await assertMayConfer(tx, actorOf(actor), {
              targets,
              condition,
              until: expiresAt,
              ...(holdsNow === undefined ? {} : { holdsNow }),
              lacking: (target) =>
                `Granting role "${role}" on ${describeResource(resource)} requires holding each of its scopes grantable, and you do not hold "${target.scope}" on ${describeResource(target.resource)}.`,
              outliving: 'This grant',
            });

      const holderColumn =
        holder.field === 'identityId' ? { identityId: holderId } : { groupId: holderId };
      const duplicate = await findLiveDuplicate(tx, holderColumn, { scope, role }, resource);
      if (duplicate !== undefined) {
        throw conflict(
          `${holderName} already holds an active grant of ${scope === null ? `role "${role}"` : `"${scope}"`} on ${describeResource(resource)} (${duplicate}); revoke it first to change it.`,
          { existingId: duplicate },
        );
      }

      const [row] = await tx
        .insert(grants)
        .values({
          ...holderColumn,
          scope,
          role,
          resource,
          reason,
          grantedBy: actor.identity.id,
          grantable,
          expiresAt,
          condition,
          authorizedBy: authority.map((g) => g.id),
        })
        .returning();
      if (row === undefined) throw new Error('Insert returned no grant row.');
      const sensitive = (await scopeRows(tx, targets)).some((s) => s.sensitive);
      await recordChange(
        tx,
        actor,
        grantCreated(
          row,
          reason,
          {
            authorityGrantIds: authority.map((g) => g.id),
            ...(sensitive ? { sensitive: true } : {}),
          },
          targets.map((t) => t.scope),
        ),
      );
      return row;
    });
  }

  async revoke(
    actor: Caller,
    rawId: string,
    rawReason: string,
    /** Also revoke what rested on it (see `grantsRestingOn`); `null`: as the scope's policy says. */
    cascade: boolean | null = null,
  ): Promise<GrantRow> {
    const id = parseId(rawId, 'grant');
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const [current] = await tx.select().from(grants).where(eq(grants.id, id)).for('update');
      if (current === undefined) throw notFound(`Grant ${id} does not exist.`);
      if (current.revokedAt !== null) {
        throw conflict(`Grant ${id} was already revoked at ${current.revokedAt.toISOString()}.`);
      }
      await assertMayRevoke(tx, actorOf(actor), current, `Revoking grant ${id} requires`);
      const now = new Date();
      const cascading = cascade ?? (await cascadesByPolicy(tx, current));
      // What rested on it lost its authority with it: revoked on that ground, not the actor's.
      const resting = cascading ? await grantsRestingOn(tx, [id], now) : [];
      const [done] = await revokeGrantsInTx(tx, actor, [current, ...resting], {
        reason,
        at: now,
        lastHolder: 'refuse',
        what: (grant) =>
          grant.id === id
            ? `Revoking grant ${id}`
            : `Revoking grant ${id} with what rested on it (grant ${grant.id})`,
        details: (grant) =>
          grant.id === id
            ? cascading
              ? { cascade: true, cascadedGrantIds: resting.map((g) => g.id) }
              : {}
            : { cascadeOf: id },
      });
      invariant(done?.outcome === 'REVOKED', `grant ${id} was revoked or refused`);
      return done.grant;
    });
  }

  /** The grants made on the authority of `grantId` (live ones only when `active`), oldest first. */
  authorizedBy(grantId: string, active: boolean): Promise<GrantRow[]> {
    return this.database.db
      .select()
      .from(grants)
      .where(and(arrayContains(grants.authorizedBy, [grantId]), active ? liveGrant() : undefined))
      .orderBy(asc(grants.createdAt), asc(grants.id))
      .limit(MAX_AUTHORIZED_GRANTS);
  }

  async list(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: GrantFilter | null | undefined,
  ): Promise<Page<GrantRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: (SQL | undefined)[] = [];
    if (filter?.identityId)
      conditions.push(eq(grants.identityId, parseId(filter.identityId, 'identity')));
    if (filter?.grantedBy)
      conditions.push(eq(grants.grantedBy, parseId(filter.grantedBy, 'identity')));
    if (filter?.groupId) conditions.push(eq(grants.groupId, parseId(filter.groupId, 'group')));
    if (filter?.scope) conditions.push(eq(grants.scope, filter.scope));
    if (filter?.role) conditions.push(eq(grants.role, filter.role));
    if (filter?.resource) conditions.push(eq(grants.resource, filter.resource));
    if (filter?.active === true) conditions.push(liveGrant());
    else if (filter?.active === false) conditions.push(not(liveGrant()));
    if (cursor) conditions.push(afterCursor(grants.createdAt, grants.id, cursor));
    const rows = await this.database.db
      .select()
      .from(grants)
      .where(and(...conditions))
      .orderBy(asc(grants.createdAt), asc(grants.id))
      .limit(size + 1);
    return toPage(rows, size, encodeCursor);
  }
}

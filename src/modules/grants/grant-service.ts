import { and, asc, eq, not, type SQL } from 'drizzle-orm';
import { requireCondition } from '../../conditions/compile-condition.js';
import type { Database } from '../../db/client.js';
import { type GrantRow, grants, identities, scopes } from '../../db/tables.js';
import { conflict, forbidden, invariant, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { assertWithinMaxTtl } from '../scopes/scope-policy.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  type Page,
  pageSize,
  toPage,
} from '../shared/pagination.js';
import { parseId, requireScopeName, requireText, resolveExpiry } from '../shared/validate.js';
import { describeResource } from './describe-resource.js';
import { assertMayDelegate, assertMayRevoke } from './grant-authority.js';
import { grantCreated, sensitiveFlag } from './grant-events.js';
import { findLiveDuplicate, liveGrant } from './live-grants.js';
import { lockIdentityGrants } from './lock-identity-grants.js';
import { parseResourcePattern } from './resource-pattern.js';
import { type RevokedEverything, revokeAllGrants } from './revoke-all-grants.js';
import { revokeGrantsInTx } from './revoke-grant.js';
import { whoCan } from './who-can.js';

export interface GrantInput {
  readonly identityId: string;
  readonly scope: string;
  readonly resource?: string | null;
  readonly reason: string;
  readonly ttlSeconds?: number | null;
  readonly expiresAt?: Date | null;
  readonly grantable?: boolean | null;
  /** A CEL condition the grant authorizes under (see `requireCondition`); omitted or blank: none. */
  readonly condition?: string | null;
}

export interface GrantFilter {
  readonly identityId?: string | null;
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
export class GrantService {
  constructor(private readonly database: Database) {}

  /** Active grants of active identities that cover `scope` on `resource` (see `whoCan`). */
  whoCan(scope: string, resource: string | null | undefined): Promise<GrantRow[]> {
    return whoCan(this.database, scope, resource);
  }

  /** The kill switch (see `revokeAllGrants`). */
  revokeAll(actor: Caller, identityId: string, reason: string): Promise<RevokedEverything> {
    return revokeAllGrants(this.database, actor, identityId, reason);
  }

  async grant(actor: Caller, input: GrantInput): Promise<GrantRow> {
    const identityId = parseId(input.identityId, 'identity');
    requireScopeName(input.scope, 'scope');
    const resource = parseResourcePattern(input.resource);
    const reason = requireText(input.reason, 'reason', 1000);
    const now = Date.now();
    const expiresAt = resolveExpiry(input, now, 'grant');
    const grantable = input.grantable ?? false;
    const condition = requireCondition(input.condition, 'condition');
    if (identityId === actor.identity.id) {
      throw forbidden(
        'An identity cannot grant to itself; ask another identity that holds the scope grantable.',
      );
    }

    return runChange(this.database, actor, async (tx) => {
      await lockIdentityGrants(tx, identityId);
      const [target] = await tx.select().from(identities).where(eq(identities.id, identityId));
      if (target === undefined) throw notFound(`Identity ${identityId} does not exist.`);
      if (target.status === 'DISABLED')
        throw conflict(`Identity "${target.name}" is disabled; it cannot receive grants.`);
      const [scope] = await tx.select().from(scopes).where(eq(scopes.name, input.scope));
      if (scope === undefined) throw notFound(`Scope "${input.scope}" is not defined.`);
      if (scope.requiresApproval) {
        throw forbidden(
          `Scope "${scope.name}" requires approval: it can only be obtained through an approved access request (requestAccess), never granted directly.`,
          { policy: 'requiresApproval', use: 'requestAccess' },
        );
      }
      assertWithinMaxTtl(scope, expiresAt, now, input.expiresAt ? 'expiresAt' : 'ttlSeconds');

      const authority = await assertMayDelegate(tx, actor.identity, {
        scope: input.scope,
        resource,
        condition,
        expiresAt,
      });

      const duplicate = await findLiveDuplicate(tx, identityId, input.scope, resource);
      if (duplicate !== undefined) {
        throw conflict(
          `Identity "${target.name}" already holds an active grant of "${input.scope}" on ${describeResource(resource)} (${duplicate}); revoke it first to change it.`,
          { existingId: duplicate },
        );
      }

      const [row] = await tx
        .insert(grants)
        .values({
          identityId,
          scope: input.scope,
          resource,
          reason,
          grantedBy: actor.identity.id,
          grantable,
          expiresAt,
          condition,
        })
        .returning();
      if (row === undefined) throw new Error('Insert returned no grant row.');
      await recordChange(
        tx,
        actor,
        grantCreated(row, reason, {
          authorityGrantIds: authority.map((g) => g.id),
          ...sensitiveFlag(scope),
        }),
      );
      return row;
    });
  }

  async revoke(actor: Caller, rawId: string, rawReason: string): Promise<GrantRow> {
    const id = parseId(rawId, 'grant');
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const [current] = await tx.select().from(grants).where(eq(grants.id, id)).for('update');
      if (current === undefined) throw notFound(`Grant ${id} does not exist.`);
      if (current.revokedAt !== null) {
        throw conflict(`Grant ${id} was already revoked at ${current.revokedAt.toISOString()}.`);
      }
      await assertMayRevoke(tx, actor.identity, current, `Revoking grant ${id} requires`);
      const [done] = await revokeGrantsInTx(tx, actor, [current], {
        reason,
        lastHolder: 'refuse',
        what: () => `Revoking grant ${id}`,
      });
      invariant(done?.outcome === 'REVOKED', `grant ${id} was revoked or refused`);
      return done.grant;
    });
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
    if (filter?.scope) conditions.push(eq(grants.scope, filter.scope));
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

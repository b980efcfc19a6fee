import { and, asc, eq, gt, isNotNull, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import { compileCondition, requireCondition } from '../../conditions/compile-condition.js';
import type { Database, Tx } from '../../db/client.js';
import { type GrantRow, grants, identities, scopes } from '../../db/tables.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import type { Caller } from '../keys/authenticate.js';
import { runChange } from '../revision/run-change.js';
import { BUILTIN_SCOPES } from '../scopes/builtin-scopes.js';
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
import { authorityFor, loadAuthority } from './grant-authority.js';
import { grantCreated, grantRevoked, sensitiveFlag } from './grant-events.js';
import { parseResourcePattern } from './resource-pattern.js';
import { type RevokedEverything, revokeAllGrants } from './revoke-all-grants.js';
import { keepRootHolders } from './root-holders.js';
import { whoCan } from './who-can.js';

const BUILTIN_SCOPE_NAMES = new Set(BUILTIN_SCOPES.map((s) => s.name));

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

/** The conditions a grant authorizes under: its own and, for a capped agent's, its owner's. */
function conditionsOf(grant: {
  condition: string | null;
  ownerCondition?: string | null;
}): string[] {
  const found: string[] = [];
  if (grant.condition !== null) found.push(grant.condition);
  if (grant.ownerCondition) found.push(grant.ownerCondition);
  return found;
}

/**
 * Whether a new grant's `condition` keeps every condition `authority` is held under (nobody
 * hands out more than they hold): every conjunct of each of them is a conjunct of the new
 * condition's top-level `&&` (see `CompiledCondition.conjuncts`), so the new condition can only
 * hold where they all do. `(<yours>) && (<more>)`, as the refusal message suggests, qualifies;
 * text that merely starts with yours, such as `(<yours>) && false || true`, does not. A held
 * condition that no longer compiles carries nothing.
 */
export function carriesConditions(
  condition: string | null,
  authority: { condition: string | null; ownerCondition?: string | null },
): boolean {
  const required = conditionsOf(authority);
  if (required.length === 0) return true;
  if (condition === null) return false;
  const given = compileCondition(condition, 'grant').conjuncts;
  return required.every((text) => {
    let needed: ReadonlySet<string>;
    try {
      needed = compileCondition(text, 'grant').conjuncts;
    } catch {
      return false;
    }
    return [...needed].every((conjunct) => given.has(conjunct));
  });
}

export interface GrantFilter {
  readonly identityId?: string | null;
  readonly scope?: string | null;
  readonly resource?: string | null;
  readonly grantedBy?: string | null;
  readonly active?: boolean | null;
}

/** A grant is active while it is neither revoked nor past its expiry. */
export function isActive(
  grant: Pick<GrantRow, 'revokedAt' | 'expiresAt'>,
  now = Date.now(),
): boolean {
  return grant.revokedAt === null && (grant.expiresAt === null || grant.expiresAt.getTime() > now);
}

export function describeResource(resource: string | null): string {
  if (resource === null) return 'every resource';
  return resource.endsWith('*')
    ? `resources starting with "${resource.slice(0, -1)}"`
    : `resource "${resource}"`;
}

/** Advisory lock per identity, so concurrent grants to one identity cannot duplicate each other. */
export async function lockIdentityGrants(tx: Tx, identityId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`grants:${identityId}`}))`);
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

      const covering = authorityFor(
        await loadAuthority(tx, actor.identity, [input.scope]),
        input.scope,
        resource,
      );
      if (covering.length === 0) {
        throw forbidden(
          `Granting "${input.scope}" on ${describeResource(resource)} requires holding it with grantable: true, and you do not.`,
          { required: { scope: input.scope, resource, grantable: true } },
        );
      }
      const authority = covering.filter((g) => carriesConditions(condition, g));
      if (authority.length === 0) {
        const yours = conditionsOf(covering[0] as GrantRow & { ownerCondition?: string | null });
        throw forbidden(
          `You hold "${input.scope}" only under the condition \`${yours.join(' && ')}\`; a grant you give must carry it: give condition "${yours.map((c) => `(${c})`).join(' && ')}", optionally followed by " && (<more>)".`,
          { required: { scope: input.scope, resource, grantable: true, condition: yours } },
        );
      }
      const latest = authority.some((g) => g.expiresAt === null)
        ? null
        : Math.max(...authority.map((g) => (g.expiresAt as Date).getTime()));
      if (latest !== null && (expiresAt === null || expiresAt.getTime() > latest)) {
        throw forbidden(
          `This grant would outlive your own grant of "${input.scope}", which ends at ${new Date(latest).toISOString()}; give an expiry no later than that.`,
          { required: { expiresAtOrBefore: new Date(latest).toISOString() } },
        );
      }

      const duplicate = await tx
        .select({ id: grants.id })
        .from(grants)
        .where(
          and(
            eq(grants.identityId, identityId),
            eq(grants.scope, input.scope),
            resource === null ? isNull(grants.resource) : eq(grants.resource, resource),
            isNull(grants.revokedAt),
            or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date())),
          ),
        );
      if (duplicate[0] !== undefined) {
        throw conflict(
          `Identity "${target.name}" already holds an active grant of "${input.scope}" on ${describeResource(resource)} (${duplicate[0].id}); revoke it first to change it.`,
          { existingId: duplicate[0].id },
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
      if (current.grantedBy !== actor.identity.id) {
        const authority = authorityFor(
          await loadAuthority(tx, actor.identity, [current.scope]),
          current.scope,
          current.resource,
        );
        if (authority.length === 0) {
          throw forbidden(
            `Revoking grant ${id} requires being its grantor or holding "${current.scope}" on ${describeResource(current.resource)} with grantable: true.`,
            { required: { scope: current.scope, resource: current.resource, grantable: true } },
          );
        }
      }
      const rootGrant =
        BUILTIN_SCOPE_NAMES.has(current.scope) && current.grantable && current.resource === null;
      if (rootGrant && isActive(current)) {
        await keepRootHolders(tx, { grantId: id }, `Revoking grant ${id}`);
      }
      const [row] = await tx
        .update(grants)
        .set({ revokedAt: new Date(), revokedBy: actor.identity.id, revokeReason: reason })
        .where(eq(grants.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no grant row.');
      await recordChange(tx, actor, grantRevoked(current, isActive(current), reason));
      return row;
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
    const now = new Date();
    if (filter?.active === true) {
      conditions.push(
        isNull(grants.revokedAt),
        or(isNull(grants.expiresAt), gt(grants.expiresAt, now)),
      );
    } else if (filter?.active === false) {
      conditions.push(or(isNotNull(grants.revokedAt), lte(grants.expiresAt, now)));
    }
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

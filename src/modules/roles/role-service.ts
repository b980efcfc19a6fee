import { and, asc, eq, isNull } from 'drizzle-orm';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { grants, type RoleRow, type RoleScopeRow, roleScopes, roles } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import {
  actorOf,
  beyondRevocationAuthority,
  isUnconditional,
  loadAuthority,
  type ScopeOnResource,
} from '../grants/grant-authority.js';
import { liveGrant } from '../grants/live-grants.js';
import { parseResourcePattern } from '../grants/resource-pattern.js';
import { revokeGrantsInTx } from '../grants/revoke-grant.js';
import { keepRootHolders } from '../grants/root-holders.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { assertConferrable } from '../scopes/scope-policy.js';
import { scopeRows } from '../scopes/scope-rows.js';
import {
  optionalText,
  requireRoleName,
  requireScopeName,
  requireText,
} from '../shared/validate.js';

/** The most scopes one role bundles. */
export const MAX_ROLE_SCOPES = 200;

export interface RoleScopeInput {
  readonly scope: string;
  readonly resource?: string | null;
}

export interface DefineRoleInput {
  readonly name: string;
  readonly description?: string | null;
  readonly scopes: readonly RoleScopeInput[];
}

/** A role's scopes as validated input: each defined scope once per resource pattern. */
function parseRoleScopes(input: readonly RoleScopeInput[]): ScopeOnResource[] {
  if (input.length > MAX_ROLE_SCOPES) {
    throw badUserInput(`A role bundles at most ${MAX_ROLE_SCOPES} scopes.`, { field: 'scopes' });
  }
  const seen = new Set<string>();
  const parsed: ScopeOnResource[] = [];
  for (const entry of input) {
    const scope = requireScopeName(entry.scope, 'scopes').name;
    const resource = parseResourcePattern(entry.resource);
    const key = `${scope}\u0000${resource ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    parsed.push({ scope, resource });
  }
  return parsed;
}

function sameTarget(a: ScopeOnResource, b: ScopeOnResource): boolean {
  return a.scope === b.scope && a.resource === b.resource;
}

function targetsOf(rows: readonly RoleScopeRow[]): ScopeOnResource[] {
  return rows.map((r) => ({ scope: r.scope, resource: r.resource }));
}

async function lockLiveRole(tx: Tx, name: string): Promise<RoleRow> {
  const [role] = await tx
    .select()
    .from(roles)
    .where(and(eq(roles.name, name), isNull(roles.deletedAt)))
    .for('update');
  if (role === undefined) throw notFound(`Role "${name}" is not defined.`);
  return role;
}

/**
 * Roles: named bundles of scopes, granted as one. A role confers nothing until granted, and a grant
 * of it needs holding each scope grantable (see `GrantService.grant`). Changing a role changes what
 * every holder can do, so:
 * - widening it (a scope added, or one's resource widened) needs holding what is added grantable,
 *   unconditionally and without expiry, and the added scopes' policies must allow the role's live
 *   grants (no `requiresApproval` scope handed out directly, none outliving `maxTtlSeconds`);
 * - narrowing it never leaves a built-in scope without a holder;
 * - deleting it revokes its grants (each one the actor could revoke).
 */
export class RoleService {
  constructor(private readonly database: Database) {}

  async define(actor: Caller, input: DefineRoleInput): Promise<RoleRow> {
    const name = requireRoleName(input.name, 'name');
    const description = optionalText(input.description, 'description', 1000) ?? '';
    const targets = parseRoleScopes(input.scopes);
    return runChange(this.database, actor, async (tx) => {
      const [existing] = await tx.select().from(roles).where(eq(roles.name, name));
      if (existing !== undefined) {
        throw conflict(
          existing.deletedAt === null
            ? `Role "${name}" is already defined.`
            : `A role named "${name}" was deleted; its name stays with its history. Choose another.`,
        );
      }
      await scopeRows(tx, targets);
      const [row] = await tx
        .insert(roles)
        .values({ name, description, createdBy: actor.identity.id })
        .returning();
      if (row === undefined) throw new Error('Insert returned no role row.');
      if (targets.length > 0) {
        await tx.insert(roleScopes).values(targets.map((t) => ({ role: name, ...t })));
      }
      await recordChange(tx, actor, {
        action: 'role.defined',
        subjectId: name,
        scopes: [...new Set(targets.map((t) => t.scope))].sort(),
        details: { after: { name, description, scopes: targets } },
      });
      return row;
    });
  }

  /** Replaces the role's scopes (see the class for the rules); the same scopes change nothing. */
  async setScopes(
    actor: Caller,
    rawName: string,
    input: readonly RoleScopeInput[],
    rawReason: string,
  ): Promise<RoleRow> {
    const name = requireRoleName(rawName, 'role');
    const after = parseRoleScopes(input);
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      const role = await lockLiveRole(tx, name);
      const before = targetsOf(await tx.select().from(roleScopes).where(eq(roleScopes.role, name)));
      const added = after.filter((t) => !before.some((b) => sameTarget(b, t)));
      const removed = before.filter((b) => !after.some((t) => sameTarget(b, t)));
      if (added.length === 0 && removed.length === 0) return role;
      await scopeRows(tx, after);
      if (added.length > 0) await assertMayWiden(tx, actor, name, added);
      const removedGlobal = removed.filter((t) => t.resource === null);
      if (removedGlobal.length > 0) {
        await keepRootHolders(
          tx,
          { roleScopes: removedGlobal.map((t) => ({ role: name, scope: t.scope })) },
          `Removing scopes from role "${name}"`,
        );
      }
      await tx.delete(roleScopes).where(eq(roleScopes.role, name));
      if (after.length > 0) {
        await tx.insert(roleScopes).values(after.map((t) => ({ role: name, ...t })));
      }
      await recordChange(tx, actor, {
        action: 'role.scopes_changed',
        subjectId: name,
        scopes: [...new Set([...before, ...after].map((t) => t.scope))].sort(),
        details: { before: { scopes: before }, after: { scopes: after }, added, removed, reason },
      });
      return role;
    });
  }

  /** Deletes the role and revokes its live grants; `CONFLICT` when that would orphan a built-in. */
  async delete(actor: Caller, rawName: string, rawReason: string): Promise<RoleRow> {
    const name = requireRoleName(rawName, 'role');
    const reason = requireText(rawReason, 'reason', 1000);
    return runChange(this.database, actor, async (tx) => {
      await lockLiveRole(tx, name);
      const held = await tx
        .select()
        .from(grants)
        .where(and(eq(grants.role, name), liveGrant()))
        .orderBy(asc(grants.createdAt), asc(grants.id))
        .for('update');
      const beyond = await beyondRevocationAuthority(tx, actorOf(actor), held);
      if (beyond.length > 0) {
        throw forbidden(
          `Deleting role "${name}" revokes its grants, and you may not revoke ${beyond
            .slice(0, 5)
            .map((g) => `grant ${g.id} (on ${describeResource(g.resource)})`)
            .join(
              ', ',
            )}: you are neither their grantor nor hold every scope of the role grantable.`,
          { grantIds: beyond.map((g) => g.id) },
        );
      }
      await revokeGrantsInTx(tx, actor, held, {
        reason,
        details: { roleDeleted: true },
        lastHolder: 'refuse',
        what: () => `Deleting role "${name}"`,
      });
      const [row] = await tx
        .update(roles)
        .set({ deletedAt: new Date(), deletedBy: actor.identity.id })
        .where(eq(roles.name, name))
        .returning();
      if (row === undefined) throw new Error('Update returned no role row.');
      await recordChange(tx, actor, {
        action: 'role.deleted',
        subjectId: name,
        details: { before: { name }, reason, revokedGrantIds: held.map((g) => g.id) },
      });
      return row;
    });
  }

  async get(name: string): Promise<RoleRow | null> {
    const [row] = await this.database.db
      .select()
      .from(roles)
      .where(and(eq(roles.name, name), isNull(roles.deletedAt)));
    return row ?? null;
  }

  list(): Promise<RoleRow[]> {
    return this.database.db
      .select()
      .from(roles)
      .where(isNull(roles.deletedAt))
      .orderBy(asc(roles.name));
  }
}

/**
 * Refuses widening role `name` by `added` unless `actor` holds each added scope grantable on its
 * resource, unconditionally and without expiry (every holder of the role gets it, for as long as
 * their grants last), and the scopes' policies allow the role's live grants.
 */
async function assertMayWiden(
  tx: Tx,
  actor: Caller,
  name: string,
  added: readonly ScopeOnResource[],
): Promise<void> {
  const authority = await loadAuthority(tx, actorOf(actor), [
    ...new Set(added.map((t) => t.scope)),
  ]);
  for (const target of added) {
    const lasting = authority
      .unconditionallyOver(target)
      .filter((g) => g.expiresAt === null && isUnconditional(g));
    if (lasting.length === 0) {
      throw forbidden(
        `Adding "${target.scope}" on ${describeResource(target.resource)} to role "${name}" gives it to every holder of the role, and needs holding it grantable there, unconditionally and without expiry; you do not.`,
        { required: { scope: target.scope, resource: target.resource, grantable: true } },
      );
    }
  }
  const live = await tx
    .select({ expiresAt: grants.expiresAt, createdAt: grants.createdAt })
    .from(grants)
    .where(and(eq(grants.role, name), liveGrant()));
  if (live.length === 0) return;
  const until = live.some((g) => g.expiresAt === null)
    ? null
    : new Date(Math.max(...live.map((g) => (g.expiresAt as Date).getTime())));
  assertConferrable(await scopeRows(tx, added), until, Date.now(), 'scopes', `Role "${name}"`);
}

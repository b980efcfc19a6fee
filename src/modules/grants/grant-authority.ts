import { and, eq, inArray, isNull } from 'drizzle-orm';
import { capToKeyScopes, type KeyScope } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { intersectResource } from 'keyholder-directive/authz/cap-to-owner.js';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { compileCondition } from 'keyholder-directive/conditions/compile-condition.js';
import { badUserInput, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { roleScopes, roles } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import { describeResource } from './describe-resource.js';
import { type ActiveGrant, loadLiveGrants, type TokenGroups } from './live-grants.js';

/**
 * Who exercises authority over others' access: an identity, through a credential that may be a
 * scoped key (whose authority is only what its scopes cover of the identity's: a scoped key cannot
 * delegate, revoke or approve beyond them). `keyScopes` is required so no path forgets it.
 */
export interface Actor {
  readonly id: string;
  /** The key's scopes; `null`: everything the identity holds (an unscoped key, a token, a policy). */
  readonly keyScopes: readonly KeyScope[] | null;
  /** The groups the actor's token names: its TOKEN memberships in them count (`TokenGroups`). */
  readonly tokenGroups?: TokenGroups;
}

/** The actor of a caller's change: its identity, through its key's scopes or with its token. */
export function actorOf(
  caller: Pick<Caller, 'identity'> & Partial<Pick<Caller, 'keyScopes' | 'token'>>,
): Actor {
  const actor = { id: caller.identity.id, keyScopes: caller.keyScopes ?? null };
  const tokenGroups = tokenGroupsOf(caller);
  return tokenGroups === undefined ? actor : { ...actor, tokenGroups };
}

/** The groups `caller`'s token names (`TokenGroups`); none for an API key. */
function tokenGroupsOf(
  caller: Pick<Caller, 'identity'> & Partial<Pick<Caller, 'token'>>,
): TokenGroups | undefined {
  const { token } = caller;
  if (token === undefined || token.groups.length === 0) return undefined;
  return { identityId: caller.identity.id, issuer: token.issuer, externalIds: token.groups };
}

/** What a grant, a request or a review item is about: a scope on a resource pattern. */
export interface ScopeOnResource {
  readonly scope: string;
  /** `null`: every instance; `x*`: ids starting with `x`. */
  readonly resource: string | null;
}

/** The conditions a grant authorizes under: its own and, for a capped agent's, its owner's. */
export function conditionsOf(grant: {
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

/** Whether a grant's authority also holds without any condition: its own, or its owner's. */
export function isUnconditional(grant: Pick<ActiveGrant, 'condition' | 'ownerCondition'>): boolean {
  return grant.condition === null && !grant.ownerCondition;
}

/**
 * One identity's authority over others' access: its live grantable grants (owner-capped), indexed
 * by the same `GrantSet` that `@requires` and `check` decide with, so coverage has one definition.
 * Every write path asks it: delegation (`grant`), revocation (`revokeGrant`, the kill switch,
 * reviews), approval of access requests and the policies of scopes.
 */
export class Authority {
  /** The grantable grants it rests on. */
  readonly grants: readonly ActiveGrant[];
  readonly #set: GrantSet<ActiveGrant>;
  readonly #now: number;

  constructor(grants: readonly ActiveGrant[], now = Date.now()) {
    this.grants = grants.filter((g) => g.grantable);
    this.#set = new GrantSet(this.grants);
    this.#now = now;
  }

  /** The grantable grants that let their holder hand out (or take back) `scope` on `resource`. */
  over(target: ScopeOnResource): ActiveGrant[] {
    return this.#set.coveringAll(target.scope, target.resource, this.#now);
  }

  /** Like `over`, only the grants whose authority holds without any condition. */
  unconditionallyOver(target: ScopeOnResource): ActiveGrant[] {
    return this.over(target).filter(isUnconditional);
  }

  /** Of `targets`, those this authority does not cover. */
  beyond<T extends ScopeOnResource>(targets: readonly T[]): T[] {
    return targets.filter((target) => this.over(target).length === 0);
  }
}

/**
 * The actor's authority, read inside the deciding transaction and locked `FOR SHARE` (see
 * `loadLiveGrants`), so a concurrent revocation waits for the change to finish, or the change sees
 * it. An owned agent's is capped by its owner's: an agent hands out nothing its owner could not;
 * a scoped key's by its scopes.
 * `scopes` narrows what is read to the scopes the change is about.
 */
export async function loadAuthority(
  tx: Tx,
  actor: Actor,
  scopes?: readonly string[],
): Promise<Authority> {
  const { grants } = await loadLiveGrants(tx, [actor.id], {
    grantableOnly: true,
    lock: true,
    ...(scopes === undefined ? {} : { scopes }),
    tokenMemberships: actor.tokenGroups,
  });
  return new Authority(capToKeyScopes(grants.get(actor.id) ?? [], actor.keyScopes));
}

/** A grant as authority reads it: of a scope or a role, on a resource pattern. */
export interface ConferringGrant {
  readonly id: string;
  readonly scope: string | null;
  readonly role: string | null;
  readonly resource: string | null;
}

/**
 * What each grant confers, by grant id: its scope on its resource, or each scope of its role on
 * the grant's resource narrowed by the role's (a role scope outside the grant's resource confers
 * nothing). Read inside the caller's transaction (one statement for all the role grants).
 */
export async function conferredBy(
  tx: Tx,
  grants: readonly ConferringGrant[],
): Promise<Map<string, ScopeOnResource[]>> {
  const roleNames = [...new Set(grants.flatMap((g) => (g.role === null ? [] : [g.role])))];
  const roleScopeRows =
    roleNames.length === 0
      ? []
      : await tx.select().from(roleScopes).where(inArray(roleScopes.role, roleNames));
  const conferred = new Map<string, ScopeOnResource[]>();
  for (const grant of grants) {
    if (grant.scope !== null) {
      conferred.set(grant.id, [{ scope: grant.scope, resource: grant.resource }]);
      continue;
    }
    const targets: ScopeOnResource[] = [];
    for (const row of roleScopeRows) {
      if (row.role !== grant.role) continue;
      const resource = intersectResource(grant.resource, row.resource);
      if (resource !== undefined) targets.push({ scope: row.scope, resource });
    }
    conferred.set(grant.id, targets);
  }
  return conferred;
}

/** A grant as revocation reads it: who granted it, and what it confers. */
export interface RevocableGrant extends ConferringGrant {
  readonly grantedBy: string | null;
}

/**
 * Of `grants`, those `actor` may not revoke: a grant may be revoked by its grantor, or by whoever
 * holds grantable every scope it confers, on a resource covering it (read with `loadAuthority`).
 */
export async function beyondRevocationAuthority<G extends RevocableGrant>(
  tx: Tx,
  actor: Actor,
  grants: readonly G[],
): Promise<G[]> {
  const delegated = grants.filter((g) => g.grantedBy !== actor.id);
  if (delegated.length === 0) return [];
  const conferred = await conferredBy(tx, delegated);
  const targets = [...conferred.values()].flat();
  const authority = await loadAuthority(tx, actor, [...new Set(targets.map((t) => t.scope))]);
  return delegated.filter((g) => authority.beyond(conferred.get(g.id) ?? []).length > 0);
}

/**
 * Throws `FORBIDDEN` unless `actor` may revoke `grant` (see `beyondRevocationAuthority`); `what`
 * begins the sentence up to the rule, e.g. `Revoking grant <id> requires`.
 */
export async function assertMayRevoke(
  tx: Tx,
  actor: Actor,
  grant: RevocableGrant,
  what: string,
): Promise<void> {
  if ((await beyondRevocationAuthority(tx, actor, [grant])).length === 0) return;
  const held = grant.role === null ? `"${grant.scope}"` : `every scope of role "${grant.role}"`;
  throw forbidden(
    `${what} being its grantor or holding ${held} on ${describeResource(grant.resource)} with grantable: true.`,
    {
      required: {
        ...(grant.role === null ? { scope: grant.scope } : { role: grant.role }),
        resource: grant.resource,
        grantable: true,
      },
    },
  );
}

/**
 * Throws `FORBIDDEN` unless `actor` holds `scope` grantable on every resource: what changing a
 * scope's own settings (its policy, its reaping window) takes. Returns that authority.
 */
export async function assertControlsScope(
  tx: Tx,
  actor: Actor,
  scope: string,
  what: string,
): Promise<ActiveGrant[]> {
  const authority = (await loadAuthority(tx, actor, [scope])).over({ scope, resource: null });
  if (authority.length > 0) return authority;
  throw forbidden(
    `${what} requires holding it on every resource with grantable: true, and you do not.`,
    { required: { scope, resource: null, grantable: true } },
  );
}

/** What a delegation hands out: a scope on a resource pattern, under a condition, until when. */
export interface Delegation extends ScopeOnResource {
  readonly condition: string | null;
  readonly expiresAt: Date | null;
  /** See `Conferral.holdsNow`. */
  readonly holdsNow?: Conferral['holdsNow'];
}

/**
 * Throws `FORBIDDEN` unless `actor` may hand out `delegation` (see `assertMayConfer`); returns the
 * grants it rests on (recorded with the change).
 */
export async function assertMayDelegate(
  tx: Tx,
  actor: Actor,
  delegation: Delegation,
): Promise<ActiveGrant[]> {
  return assertMayConfer(tx, actor, {
    targets: [delegation],
    condition: delegation.condition,
    until: delegation.expiresAt,
    lacking: (target) =>
      `Granting "${target.scope}" on ${describeResource(target.resource)} requires holding it with grantable: true, and you do not.`,
    outliving: 'This grant',
    ...(delegation.holdsNow === undefined ? {} : { holdsNow: delegation.holdsNow }),
  });
}

/**
 * Access that a change hands to others: a grant (of a scope or a role, to an identity or a group),
 * a membership (everything the group's grants confer), or a role widened (every holder).
 */
export interface Conferral {
  /** Every scope, on its resource, that holders get. */
  readonly targets: readonly ScopeOnResource[];
  /** The condition holders get it under; `null`: none. */
  readonly condition: string | null;
  /** Until when holders get it; `null`: no end. */
  readonly until: Date | null;
  /** The refusal's sentence when the actor lacks authority for one target. */
  readonly lacking: (target: ScopeOnResource) => string;
  /** What would outlive the actor's authority, beginning that refusal's sentence: `This grant`. */
  readonly outliving: string;
  /**
   * Whether one of the actor's grants holds for the actor now, conditions evaluated in the actor's
   * own request (its identity, usage, token). Needed to delegate under a condition that reads who
   * holds it (`readsHolder`): such a condition means someone else for each holder, so it is
   * handed on only while it holds for the one handing it on. Absent: never (fail closed).
   */
  readonly holdsNow?: (grant: ActiveGrant, resource: string | null) => boolean;
}

/** The variables whose meaning changes with the holder: who holds it, its use, their token. */
const HOLDER_VARIABLES = new Set(['identity', 'usage', 'token']);

/** Whether one of `conditions` reads a holder variable (one that no longer compiles counts). */
export function readsHolder(conditions: readonly string[]): boolean {
  return conditions.some((text) => {
    try {
      return compileCondition(text, 'grant').paths.some((path) =>
        HOLDER_VARIABLES.has(path.keys[0] ?? ''),
      );
    } catch {
      return true;
    }
  });
}

/**
 * Throws `FORBIDDEN` unless `actor` may confer `conferral` — nobody hands out more than they hold,
 * whatever the path (a grant, a role, a group): for every target it needs a live grantable grant
 * of the scope covering the resource, whose conditions the conferred access carries
 * (`carriesConditions`), lasting at least as long (`until` no later than the latest of them).
 * Returns the grants it rests on.
 */
export async function assertMayConfer(
  tx: Tx,
  actor: Actor,
  conferral: Conferral,
): Promise<ActiveGrant[]> {
  const { targets, condition, until } = conferral;
  const authority = await loadAuthority(tx, actor, [...new Set(targets.map((t) => t.scope))]);
  const used = new Set<ActiveGrant>();
  for (const target of targets) {
    const covering = authority.over(target);
    const first = covering[0];
    if (first === undefined) {
      throw forbidden(conferral.lacking(target), {
        required: { scope: target.scope, resource: target.resource, grantable: true },
      });
    }
    const carried = covering.filter((g) => carriesConditions(condition, g));
    if (carried.length === 0) {
      const yours = conditionsOf(first);
      throw forbidden(
        `You hold "${target.scope}" only under the condition \`${yours.join(' && ')}\`; a grant you give must carry it: give condition "${yours.map((c) => `(${c})`).join(' && ')}", optionally followed by " && (<more>)".`,
        {
          required: {
            scope: target.scope,
            resource: target.resource,
            grantable: true,
            condition: yours,
          },
        },
      );
    }
    const holding = carried.filter(
      (g) => !readsHolder(conditionsOf(g)) || conferral.holdsNow?.(g, target.resource) === true,
    );
    if (holding.length === 0) {
      const yours = conditionsOf(carried[0] as ActiveGrant);
      throw forbidden(
        `You hold "${target.scope}" under the condition \`${yours.join(' && ')}\`, which reads who holds it (identity, usage or token) and does not hold for you now; a condition like that means someone else for each holder, so you may hand it on only while it holds for you.`,
        { required: { scope: target.scope, resource: target.resource, condition: yours } },
      );
    }
    const latest = latestExpiry(holding);
    if (latest !== null && (until === null || until.getTime() > latest.getTime())) {
      throw forbidden(
        `${conferral.outliving} would outlive your own grant of "${target.scope}", which ends at ${latest.toISOString()}; give an expiry no later than that.`,
        { required: { expiresAtOrBefore: latest.toISOString() } },
      );
    }
    for (const grant of holding) used.add(grant);
  }
  return [...used];
}

/** When the last of `grants` expires; `null` when one never does. */
export function latestExpiry(grants: readonly Pick<ActiveGrant, 'expiresAt'>[]): Date | null {
  if (grants.some((g) => g.expiresAt === null)) return null;
  return new Date(Math.max(...grants.map((g) => (g.expiresAt as Date).getTime())));
}

/**
 * What a grant of `scope` or `role` on `resource` would confer (see `conferredBy`), refusing an
 * unknown role (`NOT_FOUND`) and a role that confers nothing on that resource (`BAD_USER_INPUT`).
 */
export async function conferredTargets(
  tx: Tx,
  grant: {
    readonly scope: string | null;
    readonly role: string | null;
    readonly resource: string | null;
  },
): Promise<ScopeOnResource[]> {
  if (grant.role !== null) {
    const [role] = await tx
      .select({ name: roles.name })
      .from(roles)
      .where(and(eq(roles.name, grant.role), isNull(roles.deletedAt)));
    if (role === undefined) throw notFound(`Role "${grant.role}" is not defined.`);
  }
  const targets = (await conferredBy(tx, [{ id: '', ...grant }])).get('') ?? [];
  if (targets.length === 0) {
    throw badUserInput(
      `Role "${grant.role}" has no scope on ${describeResource(grant.resource)}; a grant of it would confer nothing.`,
      { field: 'resource' },
    );
  }
  return targets;
}

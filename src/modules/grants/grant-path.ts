import type { KeyholderContext } from '../../context/keyholder-context.js';
import { describeResource } from './describe-resource.js';
import type { ActiveGrant } from './live-grants.js';

/** How an identity holds one grant, as `GrantPath` shows it. */
export interface GrantPathView {
  readonly grantId: string;
  readonly role: string | null;
  readonly groupId: string | null;
  readonly membershipIds: readonly string[];
  readonly expiresAt: Date | null;
}

/** The path of an effective grant (see `ActiveGrant.via`). */
export function pathOf(grant: ActiveGrant): GrantPathView {
  return {
    grantId: grant.id,
    role: grant.role ?? null,
    groupId: grant.via?.groupId ?? null,
    membershipIds: grant.via?.membershipIds ?? [],
    expiresAt: grant.expiresAt,
  };
}

/** The group names along a path, from the identity's own group up to the grant's. */
export async function pathGroupNames(
  ctx: Pick<KeyholderContext, 'loaders'>,
  membershipIds: readonly string[],
): Promise<string[]> {
  const memberships = await Promise.all(
    membershipIds.map((id) => ctx.loaders.teams.membership.load(id)),
  );
  const groups = await Promise.all(
    memberships.map((m) => (m === null ? null : ctx.loaders.teams.group.load(m.groupId))),
  );
  return groups.map((g, i) => g?.name ?? memberships[i]?.groupId ?? '?');
}

function describeWhat(grant: ActiveGrant): string {
  return grant.role === undefined || grant.role === null
    ? `"${grant.scope}" on ${describeResource(grant.resource)}`
    : `role "${grant.role}" ("${grant.scope}" on ${describeResource(grant.resource)})`;
}

/**
 * `describeHolding` without reading anything: a group on the path is named by its id. What a
 * decision carries; `explainDecision` replaces it with the names when a client asks.
 */
export function describeGrant(grant: ActiveGrant): string {
  const held = `grant ${grant.id} of ${describeWhat(grant)}`;
  return grant.via === undefined || grant.via === null
    ? held
    : `${held} to group ${grant.via.groupId}`;
}

/**
 * A grant as a decision names it: `grant <id> of "<scope>" on <resource>` for a direct grant, with
 * the role it comes from and the group path it reaches the identity by otherwise, e.g. `grant <id>
 * of role "oncall" ("db:write" on every resource) to group "sre" (member since …, added by
 * "alice"; through "platform")`.
 */
export async function describeHolding(
  ctx: Pick<KeyholderContext, 'loaders'>,
  grant: ActiveGrant,
): Promise<string> {
  const what = describeWhat(grant);
  if (grant.via === undefined || grant.via === null) return `grant ${grant.id} of ${what}`;
  // The path's memberships in one batch (the identity's own among them), then their groups.
  const names = await pathGroupNames(ctx, grant.via.membershipIds);
  const [own] = grant.via.membershipIds;
  const membership = own === undefined ? null : await ctx.loaders.teams.membership.load(own);
  const holder = names.at(-1) ?? grant.via.groupId;
  const addedBy =
    membership?.addedBy === null || membership?.addedBy === undefined
      ? null
      : await ctx.loaders.identity.load(membership.addedBy);
  const since = membership === null ? '' : `member since ${membership.addedAt.toISOString()}`;
  const by = addedBy === null ? '' : `, added by "${addedBy.name}"`;
  const through =
    names.length > 1
      ? `; through ${names
          .slice(0, -1)
          .map((n) => `"${n}"`)
          .join(', ')}`
      : '';
  return `grant ${grant.id} of ${what} to group "${holder}" (${since}${by}${through})`;
}

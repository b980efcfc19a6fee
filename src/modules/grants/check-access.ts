import { capToKeyScopes } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { isCappedByOwner } from 'keyholder-directive/authz/cap-to-owner.js';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import type { ResourceFacts } from 'keyholder-directive/conditions/condition-context.js';
import type { ConditionOutcome } from 'keyholder-directive/conditions/condition-outcome.js';
import { notFound } from 'keyholder-directive/errors.js';
import {
  type CheckContextInput,
  parseConditionOverride,
} from '../../conditions/parse-condition-override.js';
import { parseResourceFacts } from '../../conditions/parse-resource-facts.js';
import type { ConditionOverride } from '../../conditions/request-condition-state.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { Loaders } from '../../context/loaders.js';
import type { IdentityRow } from '../../db/tables.js';
import type { ActiveGrant } from '../grants/live-grants.js';
import { awaitRevision } from '../revision/await-revision.js';
import { compareRevisions, type Revision } from '../revision/revision.js';
import { parseId, requireScopeName, requireText } from '../shared/validate.js';
import { assertCallerHolds } from './caller-authority.js';
import { describeResource } from './describe-resource.js';
import { describeGrant, describeHolding } from './grant-path.js';

/** The outcome of `check`, with a sentence a person can act on. */
export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly grant: ActiveGrant | null;
  readonly identityId: string;
  readonly scope: string;
  readonly resource: string | null;
  readonly decidedAt: Date;
  /**
   * The revision of the state decided on: every change up to it is reflected. Exact when the
   * authentication statement prefetched the identity (root `check`); a lower bound when a loader
   * had to read it later.
   */
  readonly revision: Revision;
  /** The conditions evaluated for the decision; empty when none applied. */
  readonly conditions: readonly ConditionOutcome[];
}

/** What `check` and AuthZEN ask: may this identity use this scope on this resource now? */
export interface AccessQuestion {
  /** A valid identity id. */
  readonly identityId: string;
  /** A valid scope name. */
  readonly scope: string;
  readonly resource: string | null;
  /** The resource's type and properties, for conditions that read them. */
  readonly facts?: ResourceFacts;
  /** Values replacing the request's in conditions. */
  readonly override?: ConditionOverride | null;
  /**
   * Whether an allowing decision counts as a use of its grant. @default true without `override`
   * (a "what if" is no use), false with one; an enforcement point describing the real request
   * (AuthZEN) passes true.
   */
  readonly countsAsUse?: boolean;
}

/**
 * Decides whether an identity may use `scope` (on `resource`) now, from its live grants.
 * - malformed id, scope or resource: `BAD_USER_INPUT`; unknown identity or scope: `NOT_FOUND`;
 * - a disabled identity is denied whatever it holds;
 * - the caller asking about itself is answered through its key's scopes (a scoped key limits its
 *   caller; a decision about any other identity is about that identity's grants alone);
 * - `atLeastRevision`: the decision reflects at least that revision (see `awaitRevision` for
 *   what happens when the request's snapshot is older). The decision carries its revision.
 * - conditions are evaluated against the request's context with the identity asked about (see
 *   `RequestConditionState.gateFor`), or `override`'s values; an allowing check without override
 *   counts as a use of the grant (`unusedGrants`, the reaper, and frequency conditions): a
 *   service that asks before every access is how such a limit applies to it;
 * - `context` asks "what if" (values for the condition context): it needs `grants:read`;
 * - `resourceType` and `properties` describe the resource for conditions that read them.
 */
export async function checkAccess(
  ctx: KeyholderContext,
  rawIdentityId: string,
  scope: string,
  rawResource: string | null | undefined,
  atLeastRevision?: Revision | null,
  context?: CheckContextInput | null,
  resourceType?: string | null,
  properties?: unknown,
): Promise<AccessDecision> {
  let override: ConditionOverride | null = null;
  if (context !== null && context !== undefined) {
    assertCallerHolds(
      ctx,
      'grants:read',
      null,
      'Asking check "what if" with a context needs the scope "grants:read" on every resource.',
      { field: 'context' },
    );
    override = parseConditionOverride(context);
  }
  const identityId = parseId(rawIdentityId, 'identity');
  requireScopeName(scope, 'scope');
  const resource =
    rawResource === null || rawResource === undefined
      ? null
      : requireText(rawResource, 'resource', 512);
  const facts = parseResourceFacts(resourceType, properties);
  // The snapshot of the request's authentication statement, unless it is older than asked for.
  let { loaders } = ctx;
  let revision = ctx.revisions.seen;
  if (
    atLeastRevision !== null &&
    atLeastRevision !== undefined &&
    compareRevisions(revision, atLeastRevision) < 0
  ) {
    ({ loaders, revision } = await awaitRevision(ctx, atLeastRevision, {
      identityIds: [identityId],
      scopes: [scope],
    }));
  }
  return decideAccess(ctx, loaders, revision, { identityId, scope, resource, facts, override });
}

/**
 * `check`'s decision on already validated input, read through `loaders` (the request's, or a
 * newer snapshot's) at `revision`: the one decision `check` and AuthZEN evaluations share.
 */
export async function decideAccess(
  ctx: KeyholderContext,
  loaders: Loaders,
  revision: Revision,
  question: AccessQuestion,
): Promise<AccessDecision> {
  const { identityId, scope, resource } = question;
  const override = question.override ?? null;
  const [identity, held] = await Promise.all([
    loaders.identity.load(identityId),
    loaders.liveGrants.load(identityId),
  ]);
  // Asked about itself, the caller is answered for what it may do: through its key's scopes.
  const { caller } = ctx;
  const grants = identityId === caller.identity.id ? capToKeyScopes(held, caller.keyScopes) : held;
  if (identity === null) throw notFound(`Identity ${identityId} does not exist.`);
  const decidedAt = new Date();
  const base = { identityId, scope, resource, decidedAt, revision, conditions: [] };
  if (identity.status !== 'ACTIVE') {
    return {
      ...base,
      allowed: false,
      grant: null,
      reason: `Identity "${identity.name}" is disabled.`,
    };
  }
  const gate = ctx.conditions.gateFor(
    identity,
    override,
    override?.time ?? decidedAt,
    question.facts,
  );
  const grant = new GrantSet(grants, gate).covering(scope, resource, decidedAt.getTime());
  const conditions = gate.outcomes();
  if (grant !== null) {
    if (question.countsAsUse ?? override === null) ctx.uses.used(grant);
    return {
      ...base,
      conditions,
      allowed: true,
      grant,
      reason: allowedBecause(describeGrant(grant), grant, conditions),
    };
  }
  const defined = await loaders.scopeExists.load(scope);
  if (!defined) throw notFound(`Scope "${scope}" is not defined.`);
  const refused = gate.explain([scope], resource);
  if (refused !== null) {
    return {
      ...base,
      conditions,
      allowed: false,
      grant: null,
      reason: `Identity "${identity.name}" holds a grant of "${scope}" covering ${describeResource(resource)}, but ${refused.sentence}`,
    };
  }
  const capped = await explainOwnerCap(ctx, identity, scope, resource, decidedAt.getTime());
  if (capped !== null) return { ...base, allowed: false, grant: null, reason: capped };
  if (grants !== held && new GrantSet(held).covering(scope, resource, decidedAt.getTime())) {
    return {
      ...base,
      allowed: false,
      grant: null,
      reason: `Identity "${identity.name}" holds a grant of "${scope}" covering ${describeResource(resource)}, but the API key in use is scoped and does not cover it.`,
    };
  }
  return {
    ...base,
    allowed: false,
    grant: null,
    reason: `Identity "${identity.name}" holds no active grant of "${scope}" covering ${describeResource(resource)}.`,
  };
}

/** The sentence of an allowing decision, `holding` naming the grant and how it is held. */
function allowedBecause(
  holding: string,
  grant: ActiveGrant,
  conditions: readonly ConditionOutcome[],
): string {
  const until = grant.expiresAt === null ? '' : ` until ${grant.expiresAt.toISOString()}`;
  const held = conditions.some((c) => c.grantId === grant.id) ? '; its conditions held' : '';
  return `Allowed by ${holding}${until}${held}.`;
}

/**
 * A decision's sentence with the names along a group path (the group, who added the member and
 * when): `check`'s `reason` as clients read it. Loads them only for a grant held through a group,
 * and only when asked (the decision itself carries a sentence without them).
 */
export async function explainDecision(
  ctx: Pick<KeyholderContext, 'loaders'>,
  decision: AccessDecision,
): Promise<string> {
  const { grant } = decision;
  if (!decision.allowed || grant === null || grant.via === undefined || grant.via === null) {
    return decision.reason;
  }
  return allowedBecause(await describeHolding(ctx, grant), grant, decision.conditions);
}

/**
 * Why an owned agent is denied although one of its own grants covers the request: its owner is
 * disabled or cannot use the same. `null` when that is not why.
 */
async function explainOwnerCap(
  ctx: KeyholderContext,
  identity: IdentityRow,
  scope: string,
  resource: string | null,
  now: number,
): Promise<string | null> {
  if (identity.ownerId === null || !isCappedByOwner(identity)) return null;
  const [held, owner] = await Promise.all([
    ctx.loaders.heldGrants.load(identity.id),
    ctx.loaders.identity.load(identity.ownerId),
  ]);
  const own = new GrantSet(held).covering(scope, resource, now);
  if (own === null) return null;
  const ownerName = owner === null ? identity.ownerId : `"${owner.name}"`;
  const why =
    owner?.status === 'ACTIVE'
      ? `its owner ${ownerName} cannot use "${scope}" on ${describeResource(resource)}`
      : `its owner ${ownerName} is disabled`;
  return `Agent "${identity.name}" holds grant ${own.id} of "${scope}", but ${why}; an agent never exceeds its owner.`;
}

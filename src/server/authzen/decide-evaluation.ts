import { toCelMap } from 'keyholder-directive/conditions/cel-value.js';
import { normalizeIp } from 'keyholder-directive/conditions/cidr.js';
import type { ResourceFacts } from 'keyholder-directive/conditions/condition-context.js';
import { NO_RESOURCE_FACTS } from 'keyholder-directive/conditions/condition-context.js';
import { isDomainError } from 'keyholder-directive/errors.js';
import type { ConditionOverride } from '../../conditions/request-condition-state.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import { type AccessDecision, decideAccess } from '../../modules/grants/check-access.js';
import type { AuthzenRequestContext, AuthzenResource } from './authzen-request.js';

/** One evaluation's answer, as the response carries it and the access event records it. */
export interface EvaluationOutcome {
  readonly decision: boolean;
  /** Why (Keyholder's explanation); only a denial's is sent to the caller. */
  readonly reason: string;
  /** The scope the action named, when it named one. */
  readonly scope: string | null;
  readonly resource: string | null;
  readonly decided: AccessDecision | null;
}

/** What conditions see of the decided request: only what the enforcement point said, else blank. */
export function overrideOf(context: AuthzenRequestContext): ConditionOverride {
  return {
    ip: context.ip === null ? '' : normalizeIp(context.ip),
    userAgent: context.userAgent ?? '',
    headers: context.headers ?? {},
    device: context.device === null ? {} : toCelMap(context.device),
    tokenClaims: {},
  };
}

export function factsOf(resource: AuthzenResource): ResourceFacts {
  if (resource.properties === null && resource.type === '') return NO_RESOURCE_FACTS;
  return {
    type: resource.type,
    properties: resource.properties === null ? {} : toCelMap(resource.properties),
  };
}

/**
 * Decides one AuthZEN question about an identity, exactly as `check` does (`decideAccess`: its
 * grants through groups and roles, owner capping, conditions, expiry, revocation), with the
 * request context the enforcement point described. An allowing decision counts as a use of its
 * grant (unless `countsAsUse` is false). What `check` would refuse (an undefined scope) is a denial here, with the reason.
 */
export async function decideEvaluation(
  ctx: KeyholderContext,
  question: {
    readonly identityId: string | null;
    readonly subjectId: string;
    readonly action: string;
    readonly scope: string | null;
    readonly resource: AuthzenResource;
    readonly context: AuthzenRequestContext;
    /** Whether an allowing decision counts as a use (searches do not). @default true */
    readonly countsAsUse?: boolean;
  },
): Promise<EvaluationOutcome> {
  const resource = question.resource.id;
  const denied = (reason: string): EvaluationOutcome => ({
    decision: false,
    reason,
    scope: question.scope,
    resource,
    decided: null,
  });
  if (question.identityId === null) {
    return denied(`No identity has the id or externalId "${question.subjectId}".`);
  }
  if (question.scope === null) {
    return denied(`Action "${question.action}" is neither a scope name nor a scope's alias.`);
  }
  try {
    const decided = await decideAccess(ctx, ctx.loaders, ctx.revisions.seen, {
      identityId: question.identityId,
      scope: question.scope,
      resource,
      facts: factsOf(question.resource),
      override: overrideOf(question.context),
      countsAsUse: question.countsAsUse ?? true,
    });
    return {
      decision: decided.allowed,
      reason: decided.reason,
      scope: question.scope,
      resource,
      decided,
    };
  } catch (error) {
    if (isDomainError(error)) return denied(error.message);
    throw error;
  }
}

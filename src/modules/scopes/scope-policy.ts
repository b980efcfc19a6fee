import { requireCondition } from 'keyholder-directive/conditions/compile-condition.js';
import { badUserInput, forbidden } from 'keyholder-directive/errors.js';
import type { ScopeRow } from '../../db/tables.js';
import { MAX_TTL_SECONDS } from '../shared/validate.js';

/** A scope's policy, as `Scope.policy` shows it. */
export interface ScopePolicy {
  /** The longest grant allowed, in seconds; `null`: no limit (permanent grants allowed). */
  readonly maxTtlSeconds: number | null;
  /** Obtainable only through an approved access request; `grant` refuses it. */
  readonly requiresApproval: boolean;
  /** Access events always written; `grant.created` and `access.denied` flagged `sensitive: true`. */
  readonly sensitive: boolean;
  /**
   * A CEL condition (kind `grant`) every grant of the scope must also satisfy at decision time;
   * `null`: none.
   */
  readonly condition: string | null;
  /**
   * A CEL condition (kind `autoApproval`) over an access request and its requester: a request that
   * satisfies it is approved at once, on `autoApproveSetBy`'s authority; `null`: none.
   */
  readonly autoApprove: string | null;
  /** The id of who set `autoApprove`; `null` exactly when `autoApprove` is. */
  readonly autoApproveSetBy: string | null;
  /** Revoking a grant of the scope also revokes what it authorized, unless `cascade: false`. */
  readonly cascadeRevocation: boolean;
}

/**
 * `ScopePolicyInput` as clients send it. An omitted field is left as it is; `maxTtlSeconds: null`
 * removes the limit; `requiresApproval` and `sensitive` may not be null; `condition` and
 * `autoApprove` are cleared by null or blank text.
 */
export interface ScopePolicyInput {
  readonly maxTtlSeconds?: number | null;
  readonly requiresApproval?: boolean | null;
  readonly sensitive?: boolean | null;
  readonly condition?: string | null;
  readonly autoApprove?: string | null;
  readonly cascadeRevocation?: boolean | null;
}

export const NO_POLICY: ScopePolicy = {
  maxTtlSeconds: null,
  requiresApproval: false,
  sensitive: false,
  condition: null,
  autoApprove: null,
  autoApproveSetBy: null,
  cascadeRevocation: false,
};

type PolicyColumns = Pick<
  ScopeRow,
  | 'maxTtlSeconds'
  | 'requiresApproval'
  | 'sensitive'
  | 'condition'
  | 'autoApproveCondition'
  | 'autoApproveSetBy'
  | 'cascadeRevocation'
>;

export function policyOf(row: PolicyColumns): ScopePolicy {
  return {
    maxTtlSeconds: row.maxTtlSeconds,
    requiresApproval: row.requiresApproval,
    sensitive: row.sensitive,
    condition: row.condition,
    autoApprove: row.autoApproveCondition,
    autoApproveSetBy: row.autoApproveSetBy,
    cascadeRevocation: row.cascadeRevocation,
  };
}

/** A policy as the `scopes` columns that hold it, for inserts and updates. */
export function policyColumns(policy: ScopePolicy): PolicyColumns {
  return {
    maxTtlSeconds: policy.maxTtlSeconds,
    requiresApproval: policy.requiresApproval,
    sensitive: policy.sensitive,
    condition: policy.condition,
    autoApproveCondition: policy.autoApprove,
    autoApproveSetBy: policy.autoApproveSetBy,
    cascadeRevocation: policy.cascadeRevocation,
  };
}

/** Whether two policies say the same (a change between them would change nothing). */
export function samePolicy(a: ScopePolicy, b: ScopePolicy): boolean {
  return (
    a.maxTtlSeconds === b.maxTtlSeconds &&
    a.requiresApproval === b.requiresApproval &&
    a.sensitive === b.sensitive &&
    a.condition === b.condition &&
    a.autoApprove === b.autoApprove &&
    a.autoApproveSetBy === b.autoApproveSetBy &&
    a.cascadeRevocation === b.cascadeRevocation
  );
}

/**
 * `current` with `input` applied by `setterId`. Refuses (`BAD_USER_INPUT`) a `maxTtlSeconds` that
 * is not a whole number from 1 to five years, a null `requiresApproval` or `sensitive`, and a
 * `condition` or `autoApprove` that is not a valid condition of its kind (with
 * `extensions.position`). Setting `autoApprove` (even to the text it already has) makes `setterId`
 * its setter; clearing it clears the setter too.
 */
export function applyPolicyInput(
  current: ScopePolicy,
  input: ScopePolicyInput,
  setterId: string,
): ScopePolicy {
  const { maxTtlSeconds, requiresApproval, sensitive, cascadeRevocation } = input;
  if (
    maxTtlSeconds !== undefined &&
    maxTtlSeconds !== null &&
    (!Number.isInteger(maxTtlSeconds) || maxTtlSeconds <= 0 || maxTtlSeconds > MAX_TTL_SECONDS)
  ) {
    throw badUserInput(
      `maxTtlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS} (five years), or null for no limit; got ${maxTtlSeconds}.`,
      { field: 'maxTtlSeconds' },
    );
  }
  if (requiresApproval === null) {
    throw badUserInput('requiresApproval must be true or false; omit it to leave it as it is.', {
      field: 'requiresApproval',
    });
  }
  if (cascadeRevocation === null) {
    throw badUserInput('cascadeRevocation must be true or false; omit it to leave it as it is.', {
      field: 'cascadeRevocation',
    });
  }
  if (sensitive === null) {
    throw badUserInput('sensitive must be true or false; omit it to leave it as it is.', {
      field: 'sensitive',
    });
  }
  const condition =
    input.condition === undefined
      ? current.condition
      : requireCondition(input.condition, 'policy.condition', 'grant');
  const autoApprove =
    input.autoApprove === undefined
      ? current.autoApprove
      : requireCondition(input.autoApprove, 'policy.autoApprove', 'autoApproval');
  const autoApproveSetBy =
    input.autoApprove === undefined
      ? current.autoApproveSetBy
      : autoApprove === null
        ? null
        : setterId;
  return {
    maxTtlSeconds: maxTtlSeconds === undefined ? current.maxTtlSeconds : maxTtlSeconds,
    requiresApproval: requiresApproval ?? current.requiresApproval,
    sensitive: sensitive ?? current.sensitive,
    condition,
    autoApprove,
    autoApproveSetBy,
    cascadeRevocation: cascadeRevocation ?? current.cascadeRevocation,
  };
}

/**
 * Refuses (`BAD_USER_INPUT`, naming the scope and the limit) a grant of `scope` that would last
 * longer than its `maxTtlSeconds`, or forever, from `now`.
 */
export function assertWithinMaxTtl(
  scope: Pick<ScopeRow, 'name' | 'maxTtlSeconds'>,
  expiresAt: Date | null,
  now: number,
  field = 'ttlSeconds',
): void {
  const max = scope.maxTtlSeconds;
  if (max === null) return;
  if (expiresAt === null) {
    throw badUserInput(
      `Scope "${scope.name}" allows grants of at most ${max} seconds; give ttlSeconds or expiresAt within that (permanent grants are refused).`,
      { field, maxTtlSeconds: max },
    );
  }
  if (expiresAt.getTime() - now > max * 1000) {
    throw badUserInput(
      `Scope "${scope.name}" allows grants of at most ${max} seconds; this one would last ${Math.ceil((expiresAt.getTime() - now) / 1000)} seconds.`,
      { field, maxTtlSeconds: max },
    );
  }
}

/**
 * Throws unless the scopes `scopes` (rows, each defined) may be conferred directly until `until`:
 * none requires approval (`FORBIDDEN`: they are obtained only through an approved request), and
 * each one's `maxTtlSeconds` allows `until` (`BAD_USER_INPUT`, see `assertWithinMaxTtl`). `via`
 * names what confers them when it is not a grant of the scope itself (`role "oncall"`); `approved`
 * says an approved access request confers them (so requiring approval is met).
 */
export function assertConferrable(
  scopes: readonly Pick<ScopeRow, 'name' | 'maxTtlSeconds' | 'requiresApproval'>[],
  until: Date | null,
  now: number,
  field: string,
  via?: string,
  /** An approved access request confers them: `requiresApproval` is met. */
  approved = false,
): void {
  for (const scope of scopes) {
    if (scope.requiresApproval && !approved) {
      const subject =
        via === undefined ? `Scope "${scope.name}"` : `${via} confers "${scope.name}", which`;
      throw forbidden(
        `${subject} requires approval: it can only be obtained through an approved access request (requestAccess), never granted directly.`,
        { policy: 'requiresApproval', use: 'requestAccess', scope: scope.name },
      );
    }
    assertWithinMaxTtl(scope, until, now, field);
  }
}

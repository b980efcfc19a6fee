import type { ScopeRow } from '../../db/tables.js';
import { badUserInput } from '../../errors.js';
import { MAX_TTL_SECONDS } from '../shared/validate.js';

/** A scope's policy, as `Scope.policy` shows it. */
export interface ScopePolicy {
  /** The longest grant allowed, in seconds; `null`: no limit (permanent grants allowed). */
  readonly maxTtlSeconds: number | null;
  /** Obtainable only through an approved access request; `grant` refuses it. */
  readonly requiresApproval: boolean;
  /** Access events always written; `grant.created` and `access.denied` flagged `sensitive: true`. */
  readonly sensitive: boolean;
}

/**
 * `ScopePolicyInput` as clients send it. An omitted field is left as it is; `maxTtlSeconds: null`
 * removes the limit; `requiresApproval` and `sensitive` may not be null.
 */
export interface ScopePolicyInput {
  readonly maxTtlSeconds?: number | null;
  readonly requiresApproval?: boolean | null;
  readonly sensitive?: boolean | null;
}

export const NO_POLICY: ScopePolicy = {
  maxTtlSeconds: null,
  requiresApproval: false,
  sensitive: false,
};

export function policyOf(
  row: Pick<ScopeRow, 'maxTtlSeconds' | 'requiresApproval' | 'sensitive'>,
): ScopePolicy {
  return {
    maxTtlSeconds: row.maxTtlSeconds,
    requiresApproval: row.requiresApproval,
    sensitive: row.sensitive,
  };
}

/**
 * `current` with `input` applied. Refuses (`BAD_USER_INPUT`) a `maxTtlSeconds` that is not a whole
 * number from 1 to five years, and a null `requiresApproval` or `sensitive`.
 */
export function applyPolicyInput(current: ScopePolicy, input: ScopePolicyInput): ScopePolicy {
  const { maxTtlSeconds, requiresApproval, sensitive } = input;
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
  if (sensitive === null) {
    throw badUserInput('sensitive must be true or false; omit it to leave it as it is.', {
      field: 'sensitive',
    });
  }
  return {
    maxTtlSeconds: maxTtlSeconds === undefined ? current.maxTtlSeconds : maxTtlSeconds,
    requiresApproval: requiresApproval ?? current.requiresApproval,
    sensitive: sensitive ?? current.sensitive,
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

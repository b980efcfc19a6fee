import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { forbidden } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';

/**
 * Whether the operation's caller may use `scope` on `resource` (`null`: every resource) now, its
 * conditions included: the decision `@requires` makes, for a requirement SDL cannot state because
 * it depends on an argument's presence or value. Resolvers ask this; they never decide themselves.
 */
export function callerHolds(
  ctx: Pick<KeyholderContext, 'caller' | 'conditions'>,
  scope: string,
  resource: string | null,
): boolean {
  const grants = new GrantSet(ctx.caller.grants, ctx.conditions.gate());
  return grants.covering(scope, resource, Date.now()) !== null;
}

/** Throws `FORBIDDEN` with `sentence` (and `details`) unless `callerHolds`. */
export function assertCallerHolds(
  ctx: Pick<KeyholderContext, 'caller' | 'conditions'>,
  scope: string,
  resource: string | null,
  sentence: string,
  details: Record<string, unknown> = {},
): void {
  if (callerHolds(ctx, scope, resource)) return;
  throw forbidden(sentence, { required: { allOf: [scope] }, ...details });
}

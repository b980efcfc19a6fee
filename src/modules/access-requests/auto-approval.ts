import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import { compileCondition } from 'keyholder-directive/conditions/compile-condition.js';
import { isDomainError } from 'keyholder-directive/errors.js';
import { autoApprovalContext } from '../../conditions/auto-approval-context.js';
import type { Tx } from '../../db/client.js';
import { type IdentityRow, identities, type ScopeRow, scopes } from '../../db/tables.js';
import { isUnconditional } from '../grants/grant-authority.js';
import { type ActiveGrant, loadLiveGrants } from '../grants/live-grants.js';
import { type ApprovalPlan, planApproval } from './approval-plan.js';
import { decisionAuthority } from './decision-authority.js';
import type { ScopeRequest } from './scope-request.js';

/** How a scope's auto-approval condition went for one request. */
export type AutoApprovalOutcome =
  /** Approved at once, on the setter's authority. */
  | 'APPROVED'
  /** The condition evaluated to false. */
  | 'CONDITION_FALSE'
  /** The condition errored (or could not be compiled); an error never approves. */
  | 'CONDITION_ERRORED'
  /** The setter is gone, disabled, or no longer holds the scope grantable on the resource. */
  | 'SETTER_LACKS_AUTHORITY'
  /** The setter made the request or would receive the grant: nobody approves their own request. */
  | 'TWO_PERSON_RULE'
  /** The approval itself was refused (the grant would outlive the setter's, or is already held). */
  | 'APPROVAL_REFUSED';

/** What `accessrequest.created` records under `details.autoApproval`. */
export interface AutoApprovalDetails {
  readonly applied: boolean;
  readonly outcome: AutoApprovalOutcome;
  /** A sentence saying what happened and why. */
  readonly reason: string;
  readonly condition: string;
  readonly setBy: string | null;
  /** The evaluation's error, for `CONDITION_ERRORED`. */
  readonly error?: string;
  /** The values the condition read, by the expression's own text for them. */
  readonly seen: Record<string, unknown>;
}

/** An auto-approval that applies: the setter, its authority and the grant to make. */
export interface AutoApprovalGo {
  readonly setter: IdentityRow;
  readonly authority: ActiveGrant[];
  readonly plan: ApprovalPlan;
}

/** The verdict on one request: what to record, and the approval to make when it applies. */
export interface AutoApprovalVerdict {
  readonly details: AutoApprovalDetails;
  /** Set exactly when `details.applied`. */
  readonly approve: AutoApprovalGo | null;
}

/**
 * Decides, inside `requestAccess`'s transaction, whether `scope`'s auto-approval condition
 * approves `request` (just inserted, PENDING) from `requester`. `null` when the scope has none.
 * It applies only when all hold, each read in the transaction:
 * - the condition evaluates to true over `accessRequest` and `requester` (with the scopes of the
 *   requester's live grants, an owned agent's capped by its owner's); an error never approves;
 * - the setter is ACTIVE and may decide the request as a person would (`decisionAuthority`): it
 *   holds the scope grantable covering the resource, and is neither the requester nor the grantee;
 * - the approval is possible on the setter's authority (`planApproval`).
 * Never throws a domain error: whatever fails leaves the request PENDING, with the reason.
 */
export async function considerAutoApproval(
  tx: Tx,
  scope: ScopeRow,
  request: ScopeRequest,
  requester: IdentityRow,
): Promise<AutoApprovalVerdict | null> {
  const condition = scope.autoApproveCondition;
  if (condition === null) return null;
  const setBy = scope.autoApproveSetBy;
  const base = { condition, setBy };
  const pending = (outcome: AutoApprovalOutcome, reason: string, more = {}) => ({
    details: { applied: false, outcome, reason, ...base, seen: {}, ...more },
    approve: null,
  });

  let compiled: ReturnType<typeof compileCondition>;
  try {
    compiled = compileCondition(condition, 'autoApproval');
  } catch (error) {
    const message = error instanceof Error ? error.message : 'it is invalid';
    return pending(
      'CONDITION_ERRORED',
      `The auto-approval condition of scope "${scope.name}" no longer compiles; the request waits for a person.`,
      { error: message },
    );
  }
  const context = autoApprovalContext({
    request,
    requester,
    scopes: await liveScopeNames(tx, requester),
  });
  const seen = compiled.valuesSeen(context);
  const result = compiled.evaluate(context);
  if (result.error !== null) {
    return pending(
      'CONDITION_ERRORED',
      `The auto-approval condition of scope "${scope.name}" failed (${result.error}); the request waits for a person.`,
      { error: result.error, seen },
    );
  }
  if (!result.passed) {
    return pending(
      'CONDITION_FALSE',
      `The request does not satisfy the auto-approval condition of scope "${scope.name}"; it waits for a person.`,
      { seen },
    );
  }

  const [setter] =
    setBy === null ? [] : await tx.select().from(identities).where(eq(identities.id, setBy));
  if (setter === undefined || setter.status !== 'ACTIVE') {
    return pending(
      'SETTER_LACKS_AUTHORITY',
      `The auto-approval condition of scope "${scope.name}" matched, but its setter is ${setter === undefined ? 'unknown' : `"${setter.name}", who is disabled`}; the request waits for a person.`,
      { seen },
    );
  }
  // A policy decides on its setter's identity's authority, whatever credential set it.
  const allowed = await decisionAuthority(tx, { id: setter.id, keyScopes: null }, request);
  if ('refusal' in allowed) {
    return allowed.refusal === 'NO_AUTHORITY'
      ? pending(
          'SETTER_LACKS_AUTHORITY',
          `The auto-approval condition of scope "${scope.name}" matched, but its setter "${setter.name}" no longer holds it grantable on the requested resource; the request waits for a person.`,
          { seen },
        )
      : pending(
          'TWO_PERSON_RULE',
          `The auto-approval condition of scope "${scope.name}" matched, but its setter "${setter.name}" ${allowed.refusal === 'OWN_REQUEST' ? 'made the request' : allowed.refusal === 'GRANTEE' ? 'would receive the grant' : 'is one party with the requester or grantee (by ownership)'}, and nobody approves their own request; it waits for another person.`,
          { seen },
        );
  }
  let plan: ApprovalPlan;
  try {
    plan = await planApproval(
      tx,
      request,
      allowed.authority,
      new Date(),
      `the grant of the policy's setter "${setter.name}"`,
    );
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return pending(
      'APPROVAL_REFUSED',
      `The auto-approval condition of scope "${scope.name}" matched, but the approval was refused: ${error.message}`,
      { seen },
    );
  }
  return {
    details: {
      applied: true,
      outcome: 'APPROVED',
      reason: `Approved at once by the auto-approval condition of scope "${scope.name}", on the authority of its setter "${setter.name}".`,
      ...base,
      seen,
    },
    approve: { setter, authority: allowed.authority, plan },
  };
}

/**
 * The scopes `identity` can use unconditionally: of its live grants (an agent's capped by its
 * owner's), those carrying no condition of their own, their owner's or their scope's policy. A
 * grant that holds only under a condition is not counted, since whether it holds depends on a
 * request this decision does not have.
 */
async function liveScopeNames(tx: Tx, identity: IdentityRow): Promise<string[]> {
  const { grants } = await loadLiveGrants(tx, [identity.id], { lock: true });
  const held = (grants.get(identity.id) ?? []).filter(isUnconditional);
  const names = [...new Set(held.map((grant) => grant.scope))];
  if (names.length === 0) return [];
  const conditional = await tx
    .select({ name: scopes.name })
    .from(scopes)
    .where(and(inArray(scopes.name, names), isNotNull(scopes.condition)));
  const policed = new Set(conditional.map((row) => row.name));
  return names.filter((name) => !policed.has(name));
}

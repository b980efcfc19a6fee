import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { conflict, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { type GrantRow, grants, type ScopeRow, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { actorOf, assertControlsScope } from '../grants/grant-authority.js';
import { liveGrant } from '../grants/live-grants.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { requireScopeName } from '../shared/validate.js';
import {
  applyPolicyInput,
  policyColumns,
  policyOf,
  type ScopePolicyInput,
  samePolicy,
} from './scope-policy.js';
import { announceSensitivityChange } from './sensitive-scopes.js';

/**
 * Active grants of `scope` whose lifetime (from creation to expiry) is longer than
 * `maxTtlSeconds`, or that never expire: what a tightened limit leaves in place. Oldest first.
 */
export async function grantsOutlivingPolicy(
  db: Database['db'] | Tx,
  scope: string,
  maxTtlSeconds: number | null,
): Promise<GrantRow[]> {
  if (maxTtlSeconds === null) return [];
  return db
    .select()
    .from(grants)
    .where(
      and(
        eq(grants.scope, scope),
        liveGrant(),
        or(
          isNull(grants.expiresAt),
          sql`${grants.expiresAt} - ${grants.createdAt} > make_interval(secs => ${maxTtlSeconds})`,
        ),
      ),
    )
    .orderBy(grants.createdAt, grants.id);
}

/** The scope that guards policies, its own included: a condition on it could lock everyone out. */
const SELF_GUARDING_SCOPE = 'scopes:write';

/**
 * Changes a scope's policy, with a `scope.policy_changed` event (before, after, and the ids of
 * active grants a new `maxTtlSeconds` does not cover) in the same transaction.
 * - needs a live grant of the scope on every resource with `grantable: true` (besides
 *   `scopes:write`, checked by the directive): nobody changes the policy of a scope they do not
 *   control;
 * - never touches existing grants: a tightened limit neither shortens nor lengthens them (they are
 *   listed instead, see `grantsOutlivingPolicy`), and `requiresApproval` does not revoke direct
 *   grants made before it;
 * - `condition` and `autoApprove` are checked when written (`BAD_USER_INPUT` with
 *   `extensions.position`); setting `autoApprove` records the actor as its setter, on whose
 *   authority matching requests are then approved (see `requestAccess`);
 * - a `condition` on `scopes:write` itself is refused (`CONFLICT`): one that never held would
 *   lock every policy, its own included;
 * - a change that changes nothing writes no event.
 */
export async function setScopePolicy(
  database: Database,
  actor: Caller,
  rawName: string,
  input: ScopePolicyInput,
): Promise<ScopeRow> {
  const name = requireScopeName(rawName, 'scope').name;
  return runChange(database, actor, async (tx) => {
    const [current] = await tx.select().from(scopes).where(eq(scopes.name, name)).for('update');
    if (current === undefined) throw notFound(`Scope "${name}" is not defined.`);
    const before = policyOf(current);
    const after = applyPolicyInput(before, input, actor.identity.id);
    const authority = await assertControlsScope(
      tx,
      actorOf(actor),
      name,
      `Changing the policy of "${name}"`,
    );
    if (samePolicy(before, after)) return current;
    if (
      name === SELF_GUARDING_SCOPE &&
      after.condition !== null &&
      after.condition !== before.condition
    ) {
      throw conflict(
        `A policy condition on "${SELF_GUARDING_SCOPE}" would hold for every grant of it, so one that never holds would leave nobody able to change any policy again, this one included; put the condition on the grants of "${SELF_GUARDING_SCOPE}" instead (grant(input: { condition })), where a root holder without one remains.`,
        { field: 'input.condition' },
      );
    }
    const [row] = await tx
      .update(scopes)
      .set(policyColumns(after))
      .where(eq(scopes.name, name))
      .returning();
    if (row === undefined) throw new Error('Update returned no scope row.');
    if (before.sensitive !== after.sensitive) await announceSensitivityChange(tx, name);
    const outliving = await grantsOutlivingPolicy(tx, name, after.maxTtlSeconds);
    await recordChange(tx, actor, {
      action: 'scope.policy_changed',
      subjectId: name,
      scopes: [name],
      details: {
        before,
        after,
        outlivingGrantIds: outliving.map((g) => g.id),
        authorityGrantIds: authority.map((g) => g.id),
      },
    });
    return row;
  });
}

import { describe, expect, it } from 'vitest';
import {
  applyPolicyInput,
  NO_POLICY,
  policyColumns,
  policyOf,
  samePolicy,
} from '../../../src/modules/scopes/scope-policy.js';

const ALICE = '00000000-0000-4000-8000-00000000000a';
const BOB = '00000000-0000-4000-8000-00000000000b';
const AUTO = 'accessRequest.ttlSeconds <= 3600';

describe('conditions in a scope policy', () => {
  it('should set a trimmed condition and clear it with null or blank text', () => {
    const set = applyPolicyInput(NO_POLICY, { condition: '  resource != ""  ' }, ALICE);

    expect(set.condition).toBe('resource != ""');
    expect(applyPolicyInput(set, { sensitive: true }, ALICE).condition).toBe('resource != ""');
    expect(applyPolicyInput(set, { condition: null }, ALICE).condition).toBeNull();
    expect(applyPolicyInput(set, { condition: ' \n' }, ALICE).condition).toBeNull();
  });

  it('should record who set the auto-approval condition, keep them while it is untouched, and clear both together', () => {
    const set = applyPolicyInput(NO_POLICY, { autoApprove: AUTO }, ALICE);
    const untouched = applyPolicyInput(set, { maxTtlSeconds: 60 }, BOB);
    const resetByBob = applyPolicyInput(set, { autoApprove: AUTO }, BOB);
    const cleared = applyPolicyInput(set, { autoApprove: '' }, BOB);

    expect(set).toMatchObject({ autoApprove: AUTO, autoApproveSetBy: ALICE });
    expect(untouched).toMatchObject({ autoApprove: AUTO, autoApproveSetBy: ALICE });
    expect(resetByBob).toMatchObject({ autoApprove: AUTO, autoApproveSetBy: BOB });
    expect(cleared).toMatchObject({ autoApprove: null, autoApproveSetBy: null });
    expect(samePolicy(set, resetByBob)).toBe(false);
    expect(samePolicy(set, applyPolicyInput(set, { autoApprove: AUTO }, ALICE))).toBe(true);
  });

  it('should refuse each kind of condition written against the other kind, naming the field', () => {
    expect(() => applyPolicyInput(NO_POLICY, { condition: AUTO }, ALICE)).toThrow(
      /The policy\.condition is not valid CEL at line 1, column 1: unknown variable: accessRequest/,
    );
    expect(() => applyPolicyInput(NO_POLICY, { autoApprove: 'resource == ""' }, ALICE)).toThrow(
      /The policy\.autoApprove is not valid CEL/,
    );
  });

  it('should map the policy to its columns and back', () => {
    const policy = applyPolicyInput(
      NO_POLICY,
      { maxTtlSeconds: 3600, condition: 'resource != ""', autoApprove: AUTO },
      ALICE,
    );

    expect(policyColumns(policy)).toMatchObject({
      condition: 'resource != ""',
      autoApproveCondition: AUTO,
      autoApproveSetBy: ALICE,
    });
    expect(policyOf(policyColumns(policy))).toEqual(policy);
  });
});

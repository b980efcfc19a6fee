import { describe, expect, it } from 'vitest';
import { mayDecide } from '../../../src/modules/access-requests/access-request-queries.js';
import { effectiveStatus } from '../../../src/modules/access-requests/access-request-status.js';
import {
  applyPolicyInput,
  assertWithinMaxTtl,
  NO_POLICY,
} from '../../../src/modules/scopes/scope-policy.js';

const APPROVER = '00000000-0000-4000-8000-00000000000a';
const REQUESTER = '00000000-0000-4000-8000-00000000000b';
const NOW = Date.parse('2026-11-28T12:00:00Z');

const held = (scope: string, resource: string | null, grantable = true, expiresAt?: Date) => ({
  id: `${scope}-${resource}`,
  identityId: APPROVER,
  scope,
  resource,
  grantable,
  expiresAt: expiresAt ?? null,
  condition: null,
});

const request = (resource: string | null, requesterId = REQUESTER, identityId = REQUESTER) => ({
  requesterId,
  identityId,
  scope: 'payroll:read',
  resource,
});

describe('who may decide an access request', () => {
  it('should let a holder of the scope grantable on a covering resource decide', () => {
    expect(mayDecide(APPROVER, [held('payroll:read', null)], request('eu-1'), NOW)).toBe(true);
    expect(mayDecide(APPROVER, [held('payroll:read', 'eu-*')], request('eu-1'), NOW)).toBe(true);
    expect(mayDecide(APPROVER, [held('payroll:read', 'eu-*')], request('eu-2*'), NOW)).toBe(true);
  });

  it('should refuse a grant that is not grantable, of another scope, elsewhere or expired', () => {
    expect(mayDecide(APPROVER, [held('payroll:read', null, false)], request(null), NOW)).toBe(
      false,
    );
    expect(mayDecide(APPROVER, [held('payroll:write', null)], request(null), NOW)).toBe(false);
    expect(mayDecide(APPROVER, [held('payroll:read', 'us-*')], request('eu-1'), NOW)).toBe(false);
    expect(mayDecide(APPROVER, [held('payroll:read', 'eu-1')], request(null), NOW)).toBe(false);
    const lapsed = held('payroll:read', null, true, new Date(NOW));
    expect(mayDecide(APPROVER, [lapsed], request(null), NOW)).toBe(false);
  });

  it('should never let the requester or the grantee decide, whatever they hold', () => {
    const everything = [held('payroll:read', null)];
    expect(mayDecide(APPROVER, everything, request(null, APPROVER, REQUESTER), NOW)).toBe(false);
    expect(mayDecide(APPROVER, everything, request(null, REQUESTER, APPROVER), NOW)).toBe(false);
  });
});

describe("an access request's status", () => {
  it('should read a pending request past its expiry as EXPIRED, and leave decided ones alone', () => {
    const past = new Date(NOW - 1);
    const future = new Date(NOW + 1);
    expect(effectiveStatus({ status: 'PENDING', expiresAt: future }, NOW)).toBe('PENDING');
    expect(effectiveStatus({ status: 'PENDING', expiresAt: new Date(NOW) }, NOW)).toBe('EXPIRED');
    expect(effectiveStatus({ status: 'APPROVED', expiresAt: past }, NOW)).toBe('APPROVED');
    expect(effectiveStatus({ status: 'DENIED', expiresAt: past }, NOW)).toBe('DENIED');
  });
});

describe('scope policies', () => {
  it('should change only the fields given, and clear the limit with null', () => {
    const limited = applyPolicyInput(NO_POLICY, { maxTtlSeconds: 60 }, APPROVER);
    expect(applyPolicyInput(limited, { sensitive: true }, APPROVER)).toEqual({
      ...NO_POLICY,
      maxTtlSeconds: 60,
      sensitive: true,
    });
    expect(applyPolicyInput(limited, { maxTtlSeconds: null }, APPROVER).maxTtlSeconds).toBeNull();
  });

  it('should allow exactly the limit and refuse a second more, or no expiry', () => {
    const scope = { name: 'payroll:read', maxTtlSeconds: 60 };
    expect(() => assertWithinMaxTtl(scope, new Date(NOW + 60_000), NOW)).not.toThrow();
    expect(() => assertWithinMaxTtl(scope, new Date(NOW + 61_000), NOW)).toThrow(
      'Scope "payroll:read" allows grants of at most 60 seconds; this one would last 61 seconds.',
    );
    expect(() => assertWithinMaxTtl(scope, null, NOW)).toThrow('permanent grants are refused');
    expect(() =>
      assertWithinMaxTtl({ name: 'x:read', maxTtlSeconds: null }, null, NOW),
    ).not.toThrow();
  });
});

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

/** `mayDecide` for a request of a scope: it needs the scope grantable on the request's resource. */
const decides = (grants: ReturnType<typeof held>[], asked: ReturnType<typeof request>) =>
  mayDecide(
    APPROVER,
    grants,
    asked,
    { scope: asked.scope, resource: asked.resource, grantable: true },
    NOW,
  );

describe('who may decide an access request', () => {
  it('should let a holder of the scope grantable on a covering resource decide', () => {
    expect(decides([held('payroll:read', null)], request('eu-1'))).toBe(true);
    expect(decides([held('payroll:read', 'eu-*')], request('eu-1'))).toBe(true);
    expect(decides([held('payroll:read', 'eu-*')], request('eu-2*'))).toBe(true);
  });

  it('should refuse a grant that is not grantable, of another scope, elsewhere or expired', () => {
    expect(decides([held('payroll:read', null, false)], request(null))).toBe(false);
    expect(decides([held('payroll:write', null)], request(null))).toBe(false);
    expect(decides([held('payroll:read', 'us-*')], request('eu-1'))).toBe(false);
    expect(decides([held('payroll:read', 'eu-1')], request(null))).toBe(false);
    const lapsed = held('payroll:read', null, true, new Date(NOW));
    expect(decides([lapsed], request(null))).toBe(false);
  });

  it('should never let the requester or the grantee decide, whatever they hold', () => {
    const everything = [held('payroll:read', null)];
    expect(decides(everything, request(null, APPROVER, REQUESTER))).toBe(false);
    expect(decides(everything, request(null, REQUESTER, APPROVER))).toBe(false);
  });
});

describe('who may decide a request to join a group', () => {
  const join = { requesterId: REQUESTER, identityId: REQUESTER };
  const need = {
    scope: 'groups:write',
    resource: 'sre',
    grantable: false,
    group: { id: 'g', name: 'sre' },
  };

  it("should let the group's manager decide, grantable or not", () => {
    expect(mayDecide(APPROVER, [held('groups:write', 'sre', false)], join, need, NOW)).toBe(true);
    expect(mayDecide(APPROVER, [held('groups:write', null, false)], join, need, NOW)).toBe(true);
  });

  it('should refuse a manager of another group, a conditional manager and the requester', () => {
    expect(mayDecide(APPROVER, [held('groups:write', 'ops')], join, need, NOW)).toBe(false);
    const conditional = {
      ...held('groups:write', 'sre'),
      condition: 'request.time.getHours() < 18',
    };
    expect(mayDecide(APPROVER, [conditional], join, need, NOW)).toBe(false);
    expect(
      mayDecide(
        APPROVER,
        [held('groups:write', 'sre')],
        { ...join, identityId: APPROVER },
        need,
        NOW,
      ),
    ).toBe(false);
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

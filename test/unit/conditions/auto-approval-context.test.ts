import { compileCondition } from 'keyholder-directive/conditions/compile-condition.js';
import { describe, expect, it } from 'vitest';
import { autoApprovalContext } from '../../../src/conditions/auto-approval-context.js';

const REQUESTER = '00000000-0000-4000-8000-00000000000b';
const BOT = '00000000-0000-4000-8000-00000000000c';

const facts = (
  more: { identityId?: string; resource?: string | null; scopes?: string[] } = {},
) => ({
  request: {
    requesterId: REQUESTER,
    identityId: more.identityId ?? REQUESTER,
    scope: 'db.primary:write',
    resource: more.resource === undefined ? null : more.resource,
    ttlSeconds: 1800,
    reason: 'INC-42: restart the primary',
  },
  requester: { id: REQUESTER, kind: 'USER', externalId: null, attributes: { team: 'sre' } },
  scopes: more.scopes ?? ['oncall:execute', 'docs:read', 'oncall:execute'],
});

const ONCALL = compileCondition(
  '"oncall:execute" in requester.scopes && accessRequest.ttlSeconds <= 3600 && accessRequest.reason.matches("[A-Z]+-[0-9]+")',
  'autoApproval',
);

describe('the context of an auto-approval condition', () => {
  it('should carry the request with an int ttl, "" for every resource, and forSelf', () => {
    const context = autoApprovalContext(facts());

    expect(context.accessRequest).toEqual({
      scope: 'db.primary:write',
      resource: '',
      ttlSeconds: 1800n,
      reason: 'INC-42: restart the primary',
      forSelf: true,
    });
    expect(
      autoApprovalContext(facts({ identityId: BOT, resource: 'eu-1' })).accessRequest,
    ).toMatchObject({ resource: 'eu-1', forSelf: false });
  });

  it('should carry the requester with "" for no externalId and its scopes sorted, each once', () => {
    expect(autoApprovalContext(facts()).requester).toEqual({
      id: REQUESTER,
      kind: 'USER',
      externalId: '',
      attributes: { team: 'sre' },
      scopes: ['docs:read', 'oncall:execute'],
    });
  });

  it('should let the on-call example pass, and fail without the scope, the ticket or within the hour', () => {
    expect(ONCALL.evaluate(autoApprovalContext(facts()))).toEqual({ passed: true, error: null });
    expect(ONCALL.evaluate(autoApprovalContext(facts({ scopes: ['docs:read'] })))).toEqual({
      passed: false,
      error: null,
    });
    const long = facts();
    const untracked = facts();
    expect(
      ONCALL.evaluate(
        autoApprovalContext({ ...long, request: { ...long.request, ttlSeconds: 3601 } }),
      ).passed,
    ).toBe(false);
    expect(
      ONCALL.evaluate(
        autoApprovalContext({ ...untracked, request: { ...untracked.request, reason: 'restart' } }),
      ).passed,
    ).toBe(false);
  });

  it('should fail closed, with the error, on a missing attribute', () => {
    const team = compileCondition('requester.attributes.region == "eu"', 'autoApproval');

    const result = team.evaluate(autoApprovalContext(facts()));

    expect(result.passed).toBe(false);
    expect(result.error).toMatch(/region/);
  });
});

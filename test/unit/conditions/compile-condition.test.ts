import {
  ConditionProblem,
  compileCondition,
  requireCondition,
} from 'keyholder-directive/conditions/compile-condition.js';
import { conditionContextOf } from 'keyholder-directive/conditions/condition-context-of.js';
import { describe, expect, it } from 'vitest';

function problemOf(text: string, kind: 'grant' | 'autoApproval' = 'grant'): ConditionProblem {
  try {
    compileCondition(text, kind);
  } catch (error) {
    if (error instanceof ConditionProblem) return error;
    throw error;
  }
  throw new Error(`"${text}" compiled.`);
}

const context = {
  ...conditionContextOf({
    ip: '10.1.2.3',
    headers: { 'X-Team': 'sec' },
    token: { claims: { amr: ['pwd'] } },
  }),
  resource: 'eu-1',
  usage: { lastMinute: 4n, lastHour: 9n },
};

describe('compiling conditions', () => {
  it('should compile a text once and hand back the same program', () => {
    expect(compileCondition('request.hour >= 9', 'grant')).toBe(
      compileCondition('request.hour >= 9', 'grant'),
    );
  });

  it('should place a problem on a later line by line and column', () => {
    expect(problemOf('request.hour >= 9 &&\n  reqest.ip == "x"').position).toEqual({
      offset: 23,
      line: 2,
      column: 3,
    });
  });

  it('should check each kind against its own variables', () => {
    expect(problemOf('request.hour > 1', 'autoApproval').message).toMatch(
      /unknown variable: request/i,
    );
    expect(problemOf('accessRequest.ttlSeconds < 60').message).toMatch(
      /unknown variable: accessRequest/i,
    );
    expect(compileCondition('accessRequest.ttlSeconds <= 3600', 'autoApproval')).toBeDefined();
  });

  it('should read every variable and field the context documents', () => {
    for (const text of [
      'request.ip != "" && request.userAgent == "" && request.headers["x-team"] == "sec"',
      'request.time > timestamp("2020-01-01T00:00:00Z") && request.weekday >= 0 && request.hour >= 0',
      'device == {} && identity.kind == "" && identity.externalId == "" && identity.id == ""',
      'identity.attributes == {} && resource == "eu-1"',
      'usage.lastMinute == 4 && usage.lastHour == 9 && token.issuer == "" && token.subject == ""',
      '"pwd" in token.claims.amr',
    ]) {
      expect(compileCondition(text, 'grant').evaluate(context), text).toEqual({
        passed: true,
        error: null,
      });
    }
  });

  it('should name what a failing condition read, once each, by its own text', () => {
    const compiled = compileCondition(
      'cidr(request.ip, "192.168.0.0/16") && request.headers["x-team"] == "ops" && request.ip != ""',
      'grant',
    );

    expect(compiled.evaluate(context)).toEqual({ passed: false, error: null });
    expect(compiled.valuesSeen(context)).toEqual({
      'request.ip': '10.1.2.3',
      'request.headers["x-team"]': 'sec',
    });
  });

  it('should deny, with the reason, when evaluation errors', () => {
    const compiled = compileCondition('token.claims.groups.exists(g, g == "admins")', 'grant');

    expect(compiled.evaluate(context)).toEqual({
      passed: false,
      error: expect.stringMatching(/no such key: groups/i),
    });
  });

  it('should deny when a list in the context is longer than conditions may read', () => {
    const big = {
      ...context,
      ...conditionContextOf({
        token: { claims: { groups: Array.from({ length: 501 }, (_, i) => `g${i}`) } },
      }),
    };
    const compiled = compileCondition('!("contractors" in token.claims.groups)', 'grant');

    expect(compiled.evaluate(big).passed).toBe(false);
    expect(compiled.valuesSeen(big)['token.claims.groups']).toMatch(/a list of 501 elements/);
  });

  it('should store a blank condition as none and trim the rest', () => {
    expect(requireCondition('   ', 'condition')).toBeNull();
    expect(requireCondition(null, 'condition')).toBeNull();
    expect(requireCondition('  request.hour > 1 ', 'condition')).toBe('request.hour > 1');
  });

  it('should list the conjuncts of the top-level && alone, parentheses and spacing aside', () => {
    const held = compileCondition('cidr(request.ip, "10.0.0.0/8")', 'grant').conjuncts;
    const narrower = compileCondition(
      '(cidr(request.ip,"10.0.0.0/8")) && (request.hour >= 9 || request.hour < 1)',
      'grant',
    ).conjuncts;
    const sneaky = compileCondition(
      '(cidr(request.ip, "10.0.0.0/8")) && false || true',
      'grant',
    ).conjuncts;

    expect(narrower.size).toBe(2);
    expect([...held].every((c) => narrower.has(c))).toBe(true);
    expect([...held].some((c) => sneaky.has(c))).toBe(false);
    expect(compileCondition('usage.lastMinute < 60', 'grant').conjuncts).not.toEqual(
      compileCondition('usage.lastMinute < 61', 'grant').conjuncts,
    );
  });
});

describe('matches, with RE2', () => {
  const withAgent = (userAgent: string) => ({
    ...conditionContextOf({ ip: '10.1.2.3', userAgent }),
    resource: 'eu-1',
    usage: { lastMinute: 0n, lastHour: 0n },
  });

  it('should answer a catastrophic-backtracking pattern at once, whatever the input', () => {
    // With a backtracking engine this input takes 2^40 steps: the spec would time out.
    const evil = compileCondition('request.userAgent.matches("^(a+)+$")', 'grant');
    expect(evil.evaluate(withAgent(`${'a'.repeat(40)}!`))).toEqual({ passed: false, error: null });
    expect(evil.evaluate(withAgent('aaaa'))).toEqual({ passed: true, error: null });
  });

  it('should keep CEL meaning: a partial match, through nested calls and dynamic patterns', () => {
    const partial = compileCondition(
      'request.userAgent.matches("Mozilla") && !request.ip.matches("^192\\\\.")',
      'grant',
    );
    expect(partial.evaluate(withAgent('x Mozilla/5.0'))).toEqual({ passed: true, error: null });
    const dynamic = compileCondition('request.userAgent.matches(resource)', 'grant');
    expect(dynamic.evaluate(withAgent('in eu-1 now'))).toEqual({ passed: true, error: null });
  });

  it('should refuse when written a literal pattern RE2 cannot run (lookarounds, backreferences)', () => {
    expect(problemOf('request.userAgent.matches("(?<=a)b")').message).toContain(
      'is not an RE2 regular expression',
    );
    expect(problemOf('request.userAgent.matches("(a)\\\\1")').message).toContain(
      'is not an RE2 regular expression',
    );
  });
});

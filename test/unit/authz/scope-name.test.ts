import { parseScopeName, SCOPE_ACTIONS } from 'keyholder-directive/authz/scope-name.js';
import { describe, expect, it } from 'vitest';

describe('parseScopeName', () => {
  it('should split a well-formed name into resource and action', () => {
    expect(parseScopeName('orders:read')).toEqual({
      name: 'orders:read',
      resource: 'orders',
      action: 'read',
    });
    expect(parseScopeName('billing.invoices/eu-1_x:execute')).toEqual({
      name: 'billing.invoices/eu-1_x:execute',
      resource: 'billing.invoices/eu-1_x',
      action: 'execute',
    });
  });

  it('should accept exactly the three actions', () => {
    expect(SCOPE_ACTIONS).toEqual(['read', 'write', 'execute']);
    for (const action of SCOPE_ACTIONS)
      expect(parseScopeName(`orders:${action}`)?.action).toBe(action);
  });

  it.each([
    ['an unknown action', 'orders:delete'],
    ['a missing action', 'orders'],
    ['an empty resource', ':read'],
    ['capitals', 'Orders:read'],
    ['a capital action', 'orders:READ'],
    ['a resource starting with a digit', '1orders:read'],
    ['a space', 'orders :read'],
    ['two colons', 'orders:read:write'],
    ['a wildcard', 'orders*:read'],
    ['an empty string', ''],
  ])('should refuse %s', (_, name) => {
    expect(parseScopeName(name)).toBeNull();
  });

  it('should refuse a name longer than 200 characters', () => {
    const resource = `a${'b'.repeat(194)}`;

    expect(parseScopeName(`${resource}:read`)).not.toBeNull();
    expect(parseScopeName(`${resource}b:read`)).toBeNull();
  });
});

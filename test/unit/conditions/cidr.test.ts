import { ipInCidr, isCidrRange, normalizeIp } from 'keyholder-directive/conditions/cidr.js';
import { describe, expect, it } from 'vitest';

describe('cidr membership', () => {
  it.each([
    ['10.1.2.3', '10.0.0.0/8', true],
    ['11.1.2.3', '10.0.0.0/8', false],
    ['::ffff:10.1.2.3', '10.0.0.0/8', true],
    ['192.168.1.7', '192.168.1.7', true],
    ['2001:db8::1', '2001:db8::/32', true],
    ['2001:db9::1', '2001:db8::/32', false],
    ['10.1.2.3', '2001:db8::/32', false],
    ['', '10.0.0.0/8', false],
    ['not an ip', '0.0.0.0/0', false],
  ])('%s in %s: %s', (ip, range, expected) => {
    expect(ipInCidr(ip, range)).toBe(expected);
  });

  it('should throw for a range that is not one, so the condition errors and denies', () => {
    expect(() => ipInCidr('10.0.0.1', '10.0.0.0/33')).toThrow(/not a CIDR range/);
    expect(isCidrRange('10.0.0.0/33')).toBe(false);
    expect(isCidrRange('fe80::/10')).toBe(true);
  });

  it('should read IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::1')).toBe('::1');
  });
});

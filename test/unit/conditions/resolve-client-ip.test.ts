import { describe, expect, it } from 'vitest';
import { resolveClientIp } from '../../../src/conditions/resolve-client-ip.js';

const PROXIES = ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8'];
const XFF = 'x-forwarded-for';

describe('resolveClientIp', () => {
  it('should answer the peer address when no header is configured, whatever the request says', () => {
    expect(resolveClientIp('127.0.0.1', '203.0.113.7', null, PROXIES)).toBe('127.0.0.1');
  });

  it('should never read the header of a peer that is not a trusted proxy', () => {
    expect(resolveClientIp('192.0.2.1', '203.0.113.7', XFF, PROXIES)).toBe('192.0.2.1');
    expect(resolveClientIp('192.0.2.1', '203.0.113.7', XFF, [])).toBe('192.0.2.1');
  });

  it('should take the address a trusted proxy forwarded', () => {
    expect(resolveClientIp('127.0.0.1', '203.0.113.7', XFF, PROXIES)).toBe('203.0.113.7');
  });

  it('should walk the list from the right, skipping trusted proxies, to the first untrusted address', () => {
    expect(
      resolveClientIp('127.0.0.1', '198.51.100.9, 203.0.113.7, 10.0.0.2, 10.0.0.1', XFF, PROXIES),
    ).toBe('203.0.113.7');
  });

  it('should not let a client prepend a forged address to the list', () => {
    expect(resolveClientIp('127.0.0.1', '10.9.9.9, 203.0.113.7', XFF, PROXIES)).toBe('203.0.113.7');
  });

  it('should answer the leftmost address when every hop is a trusted proxy', () => {
    expect(resolveClientIp('127.0.0.1', '10.0.0.3, 10.0.0.2', XFF, PROXIES)).toBe('10.0.0.3');
  });

  it('should read repeated header lines as one list, in order', () => {
    expect(resolveClientIp('127.0.0.1', ['198.51.100.9', '203.0.113.7'], XFF, PROXIES)).toBe(
      '203.0.113.7',
    );
  });

  it('should fall back to the peer address when the header is missing or empty', () => {
    expect(resolveClientIp('127.0.0.1', undefined, XFF, PROXIES)).toBe('127.0.0.1');
    expect(resolveClientIp('127.0.0.1', '  ', XFF, PROXIES)).toBe('127.0.0.1');
  });

  it('should answer null, never the proxy, when an entry before the client is not an address', () => {
    expect(resolveClientIp('127.0.0.1', 'not-an-ip', XFF, PROXIES)).toBeNull();
    expect(resolveClientIp('127.0.0.1', '203.0.113.7, unknown', XFF, PROXIES)).toBeNull();
    expect(resolveClientIp('127.0.0.1', '203.0.113.7,,10.0.0.1', XFF, PROXIES)).toBeNull();
    expect(resolveClientIp('127.0.0.1', 'proto=https', 'forwarded', PROXIES)).toBeNull();
  });

  it('should ignore what a client put left of the address its proxy appended, malformed or not', () => {
    expect(resolveClientIp('127.0.0.1', 'garbage, 203.0.113.7', XFF, PROXIES)).toBe('203.0.113.7');
    expect(resolveClientIp('127.0.0.1', 'garbage, 203.0.113.7, 10.0.0.1', XFF, PROXIES)).toBe(
      '203.0.113.7',
    );
  });

  it('should write IPv4-mapped IPv6 addresses as IPv4, for the peer and the header alike', () => {
    expect(resolveClientIp('::ffff:127.0.0.1', '::ffff:203.0.113.7', XFF, PROXIES)).toBe(
      '203.0.113.7',
    );
    expect(resolveClientIp('::ffff:192.0.2.1', '203.0.113.7', XFF, PROXIES)).toBe('192.0.2.1');
  });

  it('should accept addresses with ports and bracketed IPv6 addresses', () => {
    expect(resolveClientIp('127.0.0.1', '203.0.113.7:51234', XFF, PROXIES)).toBe('203.0.113.7');
    expect(resolveClientIp('fd00::1', '[2001:db8::7]:443', XFF, PROXIES)).toBe('2001:db8::7');
    expect(resolveClientIp('fd00::1', '2001:db8::7, fd00::2', XFF, PROXIES)).toBe('2001:db8::7');
  });

  it('should read the for= parameter of a Forwarded header', () => {
    expect(
      resolveClientIp(
        '127.0.0.1',
        'for=198.51.100.9, for="[2001:db8::7]:443";proto=https, for=10.0.0.2;by=10.0.0.1',
        'forwarded',
        PROXIES,
      ),
    ).toBe('2001:db8::7');
  });

  it('should answer null when there is no peer address', () => {
    expect(resolveClientIp(null, '203.0.113.7', XFF, PROXIES)).toBeNull();
  });
});

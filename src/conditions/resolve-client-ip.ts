import { isIP } from 'node:net';
import { ipInCidr, normalizeIp } from 'keyholder-directive/conditions/cidr.js';

/** Whether `ip` lies in one of `trustedProxies` (CIDR ranges already validated at start). */
export function isTrustedProxy(ip: string | null, trustedProxies: readonly string[]): boolean {
  if (ip === null || trustedProxies.length === 0) return false;
  return trustedProxies.some((range) => ipInCidr(ip, range));
}

/**
 * The client's address, IPv4-mapped IPv6 written as IPv4:
 * - the peer's, unless `headerName` is set and the peer is a trusted proxy;
 * - from a trusted peer, the header's list (`X-Forwarded-For: client, proxy1, proxy2`, or
 *   `Forwarded: for=…`) walked from the right, skipping trusted proxies: the first untrusted
 *   address is the client; when every address is a trusted proxy, the leftmost;
 * - a missing or empty header gives the peer's;
 * - an entry that is not an address, met on that walk before the client's, gives `null` (unknown,
 *   so `cidr(request.ip, …)` is false): what a client sent to the left of it, such as
 *   `garbage, 203.0.113.9`, never matters, but a proxy's own address never stands in for a
 *   client it could not name.
 * An untrusted peer's header is never read, so a client cannot choose its own address.
 */
export function resolveClientIp(
  peer: string | null,
  header: string | readonly string[] | undefined,
  headerName: string | null,
  trustedProxies: readonly string[],
): string | null {
  const peerIp = peer === null ? null : normalizeIp(peer);
  if (headerName === null || !isTrustedProxy(peerIp, trustedProxies)) return peerIp;
  const text = typeof header === 'string' ? header : header?.join(',');
  if (text === undefined || text.trim() === '') return peerIp;
  const entries = text.split(',');
  let leftmost: string | null = null;
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const raw = entries[i] as string;
    const entry = headerName === 'forwarded' ? forValueOf(raw) : raw.trim();
    const hop = entry === null ? null : addressOf(entry);
    if (hop === null) return null;
    if (!isTrustedProxy(hop, trustedProxies)) return hop;
    leftmost = hop;
  }
  return leftmost;
}

/** `for=192.0.2.60;proto=http` → `192.0.2.60` (RFC 7239); `null` without a `for`. */
function forValueOf(element: string): string | null {
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') {
      return pair
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
    }
  }
  return null;
}

/** `10.1.2.3`, `10.1.2.3:5678`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443` → address. */
function addressOf(entry: string): string | null {
  let candidate = entry;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed !== null) candidate = bracketed[1] as string;
  else if (/^[\d.]+:\d{1,5}$/.test(entry)) candidate = entry.slice(0, entry.indexOf(':'));
  return isIP(candidate) === 0 ? null : normalizeIp(candidate);
}

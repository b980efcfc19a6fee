import { BlockList, isIP } from 'node:net';

const ranges = new Map<string, BlockList>();
const MAX_CACHED_RANGES = 1_000;

/** `10.0.0.0/8` or `2001:db8::/32` as a BlockList, parsed once; throws when it is no CIDR range. */
function rangeOf(cidr: string): BlockList {
  const cached = ranges.get(cidr);
  if (cached !== undefined) return cached;
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(address);
  const bits = slash < 0 ? (family === 6 ? 128 : 32) : Number(cidr.slice(slash + 1));
  const max = family === 6 ? 128 : 32;
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new Error(`"${cidr}" is not a CIDR range such as "10.0.0.0/8" or "2001:db8::/32".`);
  }
  const list = new BlockList();
  list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  if (ranges.size >= MAX_CACHED_RANGES) ranges.clear();
  ranges.set(cidr, list);
  return list;
}

/** Whether `cidr` is a valid CIDR range (for checking conditions when they are written). */
export function isCidrRange(cidr: string): boolean {
  try {
    rangeOf(cidr);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) as plain IPv4; anything else unchanged. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

// Answers by `range ip`: a request asks the same few questions for every decision it makes, and
// BlockList.check allocates on each call.
const answers = new Map<string, boolean>();
const MAX_ANSWERS = 10_000;

/**
 * Whether `ip` lies in `cidr`. An `ip` that is not an address (empty, unknown) is in no range; a
 * malformed `cidr` throws, so the condition errors and denies.
 */
export function ipInCidr(ip: string, cidr: string): boolean {
  const key = `${cidr} ${ip}`;
  const known = answers.get(key);
  if (known !== undefined) return known;
  const answer = checkRange(ip, cidr);
  if (answers.size >= MAX_ANSWERS) answers.clear();
  answers.set(key, answer);
  return answer;
}

function checkRange(ip: string, cidr: string): boolean {
  const range = rangeOf(cidr);
  const address = normalizeIp(ip);
  const family = isIP(address);
  if (family === 0) return false;
  return range.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

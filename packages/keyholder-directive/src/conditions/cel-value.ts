/** The most elements a list in a condition's context may have; see `OversizedList`. */
export const MAX_LIST_ELEMENTS = 500;

/**
 * Stands for a list longer than `MAX_LIST_ELEMENTS`: any condition that touches it errors (and so
 * denies) instead of working through it, which keeps evaluation bounded. Truncating the list
 * instead could turn `!("contractors" in token.claims.groups)` true.
 */
export class OversizedList {
  constructor(readonly length: number) {}
}

/**
 * A JSON-like value as conditions see it: whole numbers become `bigint` (CEL's `int`, so
 * `device.riskScore < 50` compares ints), other numbers stay doubles, objects and lists are
 * converted deeply, and a list over `MAX_LIST_ELEMENTS` becomes an `OversizedList`. Values other than JSON's (functions, symbols, undefined) become `null`.
 */
export function toCelValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint' || value instanceof Date) return value;
  if (Array.isArray(value)) {
    if (value.length > MAX_LIST_ELEMENTS) return new OversizedList(value.length);
    // Lists of strings (groups, amr) are the common case and need no conversion.
    return value.every((item) => typeof item === 'string') ? value : value.map(toCelValue);
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      out[key] = toCelValue(item);
    }
    return out;
  }
  return null;
}

/** `toCelValue` of an object; anything else (a list, a scalar, null) is `{}`. */
export function toCelMap(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return toCelValue(value) as Record<string, unknown>;
}

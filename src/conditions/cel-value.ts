/**
 * A JSON-like value as conditions see it: whole numbers become `bigint` (CEL's `int`, so
 * `device.riskScore < 50` compares ints), other numbers stay doubles, objects and lists are
 * converted deeply. Values other than JSON's (functions, symbols, undefined) become `null`.
 */
export function toCelValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(toCelValue);
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

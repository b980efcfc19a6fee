import { toCelMap } from 'keyholder-directive/conditions/cel-value.js';
import { badUserInput } from 'keyholder-directive/errors.js';
import { isStorableText } from '../modules/shared/validate.js';

/** The largest JSON object a caller may hand to conditions, serialized. */
export const MAX_JSON_BYTES = 8_192;

/**
 * A JSON object a caller gave for conditions to read, as CEL values (`toCelMap`); `null` when
 * absent. Anything but an object of at most `MAX_JSON_BYTES` is `BAD_USER_INPUT` naming `field`.
 */
export function parseJsonObject(value: unknown, field: string): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badUserInput(`${field} must be a JSON object.`, { field });
  }
  if (JSON.stringify(value).length > MAX_JSON_BYTES) {
    throw badUserInput(`${field} is larger than ${MAX_JSON_BYTES} bytes.`, { field });
  }
  // Values conditions saw are written to the audit log, which cannot store these.
  if (!isStorableValue(value)) {
    throw badUserInput(`${field} must not contain NUL characters or lone surrogates.`, { field });
  }
  return toCelMap(value);
}

/** Whether every string in a JSON value (keys included) is `isStorableText`. */
export function isStorableValue(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableValue);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(
      ([key, item]) => isStorableText(key) && isStorableValue(item),
    );
  }
  return true;
}

import { badUserInput } from 'keyholder-directive/errors.js';

/** The most keys an identity's attributes may have. */
export const MAX_ATTRIBUTE_KEYS = 50;
/** The largest an identity's attributes may be, serialized as JSON, in bytes. */
export const MAX_ATTRIBUTES_BYTES = 8_192;

/**
 * An identity's attributes as stored (conditions read them as `identity.attributes`): a JSON
 * object of at most `MAX_ATTRIBUTE_KEYS` keys and `MAX_ATTRIBUTES_BYTES` serialized, holding no
 * NUL character (PostgreSQL's jsonb cannot). Anything else is `BAD_USER_INPUT` naming `field`.
 */
export function requireAttributes(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badUserInput(`${field} must be a JSON object, such as {"department": "finance"}.`, {
      field,
    });
  }
  const keys = Object.keys(value).length;
  if (keys > MAX_ATTRIBUTE_KEYS) {
    throw badUserInput(`${field} may have at most ${MAX_ATTRIBUTE_KEYS} keys; it has ${keys}.`, {
      field,
    });
  }
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_ATTRIBUTES_BYTES) {
    throw badUserInput(
      `${field} may be at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON; it is ${bytes}.`,
      { field },
    );
  }
  if (json.includes('\\u0000')) {
    throw badUserInput(`${field} must not contain the NUL character.`, { field });
  }
  return JSON.parse(json) as Record<string, unknown>;
}

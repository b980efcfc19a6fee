import { isIP } from 'node:net';
import { badUserInput } from 'keyholder-directive/errors.js';
import { parseJsonObject } from './parse-json-object.js';
import type { ConditionOverride } from './request-condition-state.js';

/** `CheckContextInput` as clients send it. */
export interface CheckContextInput {
  readonly ip?: string | null;
  readonly time?: Date | null;
  readonly userAgent?: string | null;
  readonly headers?: unknown;
  readonly device?: unknown;
  readonly tokenClaims?: unknown;
}

const MAX_HEADERS = 50;

/**
 * Validates `check`'s "what if" context: an IP address, header values that are strings, and
 * `device` / `tokenClaims` JSON objects of at most 8 KiB; anything else is `BAD_USER_INPUT`
 * naming the field.
 */
export function parseConditionOverride(input: CheckContextInput): ConditionOverride {
  if (input.ip !== null && input.ip !== undefined && isIP(input.ip) === 0) {
    throw badUserInput(`context.ip "${input.ip.slice(0, 64)}" is not an IP address.`, {
      field: 'context.ip',
    });
  }
  return {
    ip: input.ip ?? null,
    time: input.time ?? null,
    userAgent: input.userAgent ?? null,
    headers:
      input.headers === null || input.headers === undefined ? null : headersOf(input.headers),
    device: parseJsonObject(input.device, 'context.device'),
    tokenClaims: parseJsonObject(input.tokenClaims, 'context.tokenClaims'),
  };
}

function headersOf(value: unknown): Record<string, string> {
  const object = parseJsonObject(value, 'context.headers') ?? {};
  const entries = Object.entries(object);
  if (entries.length > MAX_HEADERS) {
    throw badUserInput(`context.headers may hold at most ${MAX_HEADERS} headers.`, {
      field: 'context.headers',
    });
  }
  const headers: Record<string, string> = {};
  for (const [name, text] of entries) {
    if (typeof text !== 'string') {
      throw badUserInput(`context.headers["${name}"] must be a string.`, {
        field: 'context.headers',
      });
    }
    headers[name.toLowerCase()] = text;
  }
  return headers;
}

import { parseScopeName, type ScopeName } from 'keyholder-directive/authz/scope-name.js';
import { badUserInput } from 'keyholder-directive/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** An id argument: a UUID, lower-cased; anything else is `BAD_USER_INPUT` naming what it was for. */
export function parseId(value: string, what: string): string {
  if (!isUuid(value))
    throw badUserInput(`"${truncate(value)}" is not a valid ${what} id.`, { field: what });
  return value.toLowerCase();
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether PostgreSQL can store `text` (in a text or jsonb value): no NUL, no lone surrogate. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/** Text that must not be blank, with control characters refused and a length limit. */
export function requireText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw badUserInput(`${field} must not be empty.`, { field });
  if (text.length > max)
    throw badUserInput(`${field} must be at most ${max} characters.`, { field });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    throw badUserInput(`${field} must not contain control characters.`, { field });
  }
  // A lone surrogate is not text: PostgreSQL cannot store it (and UTF-8 cannot encode it).
  if (LONE_SURROGATE.test(text)) {
    throw badUserInput(`${field} must be well-formed Unicode (it has a lone surrogate).`, {
      field,
    });
  }
  return text;
}

/**
 * Characters that change how a name looks without showing: format characters (zero-width space
 * and joiners, bidirectional embeddings, overrides and isolates, the BOM) and line separators.
 * A name carrying one could pass for another (`bootstrap-admin\u200b`, `evil\u202egnp.exe`).
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * A name (of an identity, a group): `requireText`'s rules, normalised to NFKC so look-alike
 * compatibility forms compare equal, and refusing invisible and bidirectional control characters
 * (`BAD_USER_INPUT`), so no two names that read the same differ.
 */
export function requireName(value: string, field: string, max: number): string {
  const text = requireText(value.normalize('NFKC'), field, max);
  if (INVISIBLE.test(text)) {
    throw badUserInput(
      `${field} must not contain invisible or bidirectional control characters (zero-width spaces, joiners, direction overrides); they make one name look like another.`,
      { field },
    );
  }
  return text;
}

/** A scope name argument, parsed; a malformed one is `BAD_USER_INPUT` stating the rule. */
export function requireScopeName(name: string, field: string): ScopeName {
  const parsed = parseScopeName(name);
  if (parsed === null) {
    throw badUserInput(
      `"${truncate(name)}" is not a valid scope name: use <resource>:<action> with resource matching [a-z][a-z0-9._/-]* and action read, write or execute.`,
      { field },
    );
  }
  return parsed;
}

export function optionalText(
  value: string | null | undefined,
  field: string,
  max: number,
): string | null {
  if (value === null || value === undefined) return null;
  return requireText(value, field, max);
}

/** The longest lifetime anything in Keyholder can be given: five years. */
export const MAX_TTL_SECONDS = 5 * 365 * 24 * 3600;

/**
 * Resolves `ttlSeconds` / `expiresAt` (at most one) to an expiry instant, or `null` for none.
 * - ttl must be a whole number of seconds from 1 to MAX_TTL_SECONDS;
 * - expiresAt must be in the future and within MAX_TTL_SECONDS.
 */
export function resolveExpiry(
  input: { ttlSeconds?: number | null; expiresAt?: Date | null },
  now: number,
  what: string,
): Date | null {
  const { ttlSeconds, expiresAt } = input;
  const hasTtl = ttlSeconds !== null && ttlSeconds !== undefined;
  const hasAt = expiresAt !== null && expiresAt !== undefined;
  if (hasTtl && hasAt)
    throw badUserInput(`Give either ttlSeconds or expiresAt for the ${what}, not both.`);
  if (hasTtl) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
      throw badUserInput(
        `ttlSeconds for the ${what} must be a whole number from 1 to ${MAX_TTL_SECONDS} (five years); got ${ttlSeconds}.`,
        { field: 'ttlSeconds' },
      );
    }
    return new Date(now + ttlSeconds * 1000);
  }
  if (hasAt) {
    if (expiresAt.getTime() <= now) {
      throw badUserInput(
        `expiresAt for the ${what} (${expiresAt.toISOString()}) is not in the future.`,
        {
          field: 'expiresAt',
        },
      );
    }
    if (expiresAt.getTime() > now + MAX_TTL_SECONDS * 1000) {
      throw badUserInput(`expiresAt for the ${what} is more than five years away.`, {
        field: 'expiresAt',
      });
    }
    return expiresAt;
  }
  return null;
}

export function truncate(value: string, max = 60): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

const ROLE_NAME = /^[a-z][a-z0-9._-]*$/;

/** A role's name: lower-case letters, digits and `. _ -`, starting with a letter, at most 100. */
export function requireRoleName(name: string, field: string): string {
  if (name.length > 100 || !ROLE_NAME.test(name)) {
    throw badUserInput(
      `"${truncate(name)}" is not a valid role name: use lower-case letters, digits and . _ - (starting with a letter, at most 100 characters).`,
      { field },
    );
  }
  return name;
}

import { badUserInput } from '../../errors.js';

/**
 * A grant's resource: absent for every instance, an id, or a prefix ending in a single `*`.
 * Refuses blank values, `*` anywhere but the end, control characters and more than 512 characters.
 */
export function parseResourcePattern(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value.trim().length === 0 || value !== value.trim()) {
    throw badUserInput(
      'resource must not be blank or padded with spaces; omit it to cover every resource.',
      { field: 'resource' },
    );
  }
  if (value.length > 512)
    throw badUserInput('resource must be at most 512 characters.', { field: 'resource' });
  if (value.indexOf('*') !== -1 && value.indexOf('*') !== value.length - 1) {
    throw badUserInput(
      `resource "${value}" may contain "*" only as its last character (a prefix).`,
      { field: 'resource' },
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw badUserInput('resource must not contain control characters.', { field: 'resource' });
  return value === '*' ? null : value;
}

import { badUserInput } from 'keyholder-directive/errors.js';
import { requireText } from '../shared/validate.js';

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
  if (value.indexOf('*') !== -1 && value.indexOf('*') !== value.length - 1) {
    throw badUserInput(
      `resource "${value}" may contain "*" only as its last character (a prefix).`,
      { field: 'resource' },
    );
  }
  requireText(value, 'resource', 512);
  return value === '*' ? null : value;
}

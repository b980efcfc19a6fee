import { badUserInput } from 'keyholder-directive/errors.js';

/** The longest unused window accepted anywhere (ten years of 365 days). */
export const MAX_UNUSED_SECONDS = 10 * 365 * 24 * 3600;

/** `value` as a window of seconds, or BAD_USER_INPUT naming `field`. */
export function requireUnusedWindow(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_UNUSED_SECONDS) {
    throw badUserInput(
      `${field} must be a whole number of seconds from 1 to ${MAX_UNUSED_SECONDS} (ten years); got ${value}.`,
      { field },
    );
  }
  return value;
}

const UNITS = [
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
] as const;

/** A window in words, in the largest unit that divides it: "90 days", "36 hours", "45 seconds". */
export function describeWindow(seconds: number): string {
  for (const [unit, size] of UNITS) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/** How retries are spaced. */
export interface RetrySchedule {
  /** The delay after the first failed attempt; each further failure doubles it. */
  readonly retryBaseMs: number;
  /** The longest delay between two attempts. */
  readonly retryMaxMs: number;
}

/**
 * The delay before the next attempt after `attempts` failed ones: exponential
 * (`base × 2^(attempts − 1)`, capped), with "equal jitter" — between half and all of it — so
 * receivers coming back up are not hit by every instance at the same instant.
 */
export function retryDelayMs(
  attempts: number,
  schedule: RetrySchedule,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const full = Math.min(schedule.retryMaxMs, schedule.retryBaseMs * 2 ** exponent);
  return Math.round(full / 2 + random() * (full / 2));
}

import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../src/modules/webhooks/retry-delay.js';
import { DEFAULT_DISPATCH } from '../../../src/modules/webhooks/webhook-dispatcher.js';

describe('retryDelayMs', () => {
  const never = () => 0;
  const always = () => 1;

  it('should double from the base delay after each failed attempt, up to the cap', () => {
    const full = [1, 2, 3, 4, 5, 9, 10, 15].map((n) => retryDelayMs(n, DEFAULT_DISPATCH, always));

    expect(full).toEqual([1000, 2000, 4000, 8000, 16_000, 256_000, 300_000, 300_000]);
  });

  it('should jitter each delay between half and all of it', () => {
    expect(retryDelayMs(3, DEFAULT_DISPATCH, never)).toBe(2000);
    expect(retryDelayMs(3, DEFAULT_DISPATCH, always)).toBe(4000);
    for (let i = 0; i < 100; i += 1) {
      const delay = retryDelayMs(12, DEFAULT_DISPATCH);
      expect(delay).toBeGreaterThanOrEqual(150_000);
      expect(delay).toBeLessThanOrEqual(300_000);
    }
  });

  it('should not overflow after very many attempts', () => {
    expect(retryDelayMs(10_000, { retryBaseMs: 1000, retryMaxMs: 5000 }, always)).toBe(5000);
  });
});

import { UsageWindows } from 'keyholder-directive/conditions/usage-windows.js';
import { describe, expect, it } from 'vitest';

function clockAt(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('usage windows', () => {
  it('should count uses per grant in the last minute and hour', () => {
    const clock = clockAt(Date.UTC(2026, 10, 28, 12));
    const windows = new UsageWindows(clock.now);

    windows.record('a');
    windows.record('a');
    windows.record('b');

    expect(windows.counts('a')).toEqual({ lastMinute: 2n, lastHour: 2n });
    expect(windows.counts('b')).toEqual({ lastMinute: 1n, lastHour: 1n });
    expect(windows.counts('never')).toEqual({ lastMinute: 0n, lastHour: 0n });
  });

  it('should let a use leave the minute after 60 seconds and the hour after 60 minutes', () => {
    const clock = clockAt(Date.UTC(2026, 10, 28, 12, 0, 30));
    const windows = new UsageWindows(clock.now);
    windows.record('a');

    clock.advance(59_000);
    expect(windows.counts('a').lastMinute).toBe(1n);
    clock.advance(1_000);
    expect(windows.counts('a')).toEqual({ lastMinute: 0n, lastHour: 1n });
    clock.advance(58 * 60_000);
    expect(windows.counts('a').lastHour).toBe(1n);
    clock.advance(60_000);
    expect(windows.counts('a').lastHour).toBe(0n);
  });

  it('should slide: a steady use per second keeps the minute at 60, never more', () => {
    const clock = clockAt(Date.UTC(2026, 10, 28, 12));
    const windows = new UsageWindows(clock.now);

    for (let second = 0; second < 180; second += 1) {
      windows.record('a');
      expect(windows.counts('a').lastMinute).toBe(BigInt(Math.min(second + 1, 60)));
      clock.advance(1_000);
    }
    // A second after the last use, the one from 60 seconds before has left the window.
    expect(windows.counts('a')).toEqual({ lastMinute: 59n, lastHour: 180n });
  });

  it('should forget a grant unused for an hour', () => {
    const clock = clockAt(Date.UTC(2026, 10, 28, 12));
    const windows = new UsageWindows(clock.now);
    windows.record('old');

    clock.advance(61 * 60_000);
    windows.record('new');

    expect(windows.counts('old')).toEqual({ lastMinute: 0n, lastHour: 0n });
  });
});

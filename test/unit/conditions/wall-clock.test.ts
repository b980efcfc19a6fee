import { wallClock } from 'keyholder-directive/conditions/wall-clock.js';
import { describe, expect, it } from 'vitest';

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function byIntl(time: Date, timeZone: string) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(time);
  return {
    weekday: BigInt(WEEKDAYS[parts.find((p) => p.type === 'weekday')?.value ?? ''] ?? -1),
    hour: BigInt(Number(parts.find((p) => p.type === 'hour')?.value)),
  };
}

describe('weekday and hour in a time zone', () => {
  it('should agree with Intl across DST changes and odd offsets for a whole year', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu'];
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 97 * 60_000) {
      for (const zone of zones) {
        const time = new Date(t);
        expect(wallClock(time, zone), `${time.toISOString()} in ${zone}`).toEqual(
          byIntl(time, zone),
        );
      }
    }
  });

  it('should put the hour before Berlin switches to summer time right', () => {
    // 2026-03-29 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST (a Sunday).
    expect(wallClock(new Date('2026-03-29T00:30:00Z'), 'Europe/Berlin')).toEqual({
      weekday: 0n,
      hour: 1n,
    });
    expect(wallClock(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin')).toEqual({
      weekday: 0n,
      hour: 3n,
    });
  });
});

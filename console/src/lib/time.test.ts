import { describe, expect, it } from 'vitest';
import { duration, exactTime, relativeTime } from './time';

describe('times', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  it('are relative to now, in the largest whole unit', () => {
    expect(relativeTime(new Date('2026-06-01T11:57:00Z'), now)).toBe('3 minutes ago');
    expect(relativeTime(new Date('2026-06-01T14:00:00Z'), now)).toBe('in 2 hours');
    expect(relativeTime(new Date('2026-06-01T12:00:02Z'), now)).toBe('now');
    expect(relativeTime(new Date('2026-05-31T12:00:00Z'), now)).toBe('yesterday');
  });

  it('are exact on hover', () => {
    expect(exactTime(now)).toBe('2026-06-01T12:00:00.000Z');
  });

  it('say durations shortly', () => {
    expect(duration(3600)).toBe('1 h');
    expect(duration(1800)).toBe('30 min');
    expect(duration(172_800)).toBe('2 d');
    expect(duration(61)).toBe('61 s');
  });
});

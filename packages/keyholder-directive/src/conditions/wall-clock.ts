const clocks = new Map<string, Intl.DateTimeFormat>();
const QUARTER_HOUR = 15 * 60_000;
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
// Per zone, its UTC offset during one quarter hour: offsets change (DST) only at quarter hours,
// and asking Intl costs microseconds, so it is asked once per zone per quarter hour.
const offsets = new Map<string, { quarter: number; offset: number }>();

function offsetOf(time: number, timeZone: string): number {
  const quarter = Math.floor(time / QUARTER_HOUR);
  const known = offsets.get(timeZone);
  if (known !== undefined && known.quarter === quarter) return known.offset;
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    clocks.set(timeZone, clock);
  }
  const parts: Record<string, number> = {};
  for (const part of clock.formatToParts(time)) parts[part.type] = Number(part.value);
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
  );
  const offset = local - (time - (time % 60_000));
  offsets.set(timeZone, { quarter, offset });
  return offset;
}

/** Weekday (0 = Sunday) and hour of `time` in `timeZone`. */
export function wallClock(time: Date, timeZone: string): { weekday: bigint; hour: bigint } {
  const local = time.getTime() + offsetOf(time.getTime(), timeZone);
  const day = Math.floor(local / DAY);
  // 1970-01-01 was a Thursday.
  const weekday = (((day + 4) % 7) + 7) % 7;
  const hour = Math.floor((local - day * DAY) / HOUR);
  return { weekday: BigInt(weekday), hour: BigInt(hour) };
}

/** How often one grant authorized recently, as conditions read it (`usage`). */
export interface UsageCounts {
  readonly lastMinute: bigint;
  readonly lastHour: bigint;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/** Counts in 60 one-second and 60 one-minute buckets; a bucket is reused once its stamp is stale. */
class GrantWindow {
  readonly seconds = new Uint32Array(60);
  readonly secondStamps = new Float64Array(60).fill(-1);
  readonly minutes = new Uint32Array(60);
  readonly minuteStamps = new Float64Array(60).fill(-1);
  lastUse = 0;

  add(now: number): void {
    const second = Math.floor(now / SECOND);
    const s = second % 60;
    if (this.secondStamps[s] !== second) {
      this.secondStamps[s] = second;
      this.seconds[s] = 0;
    }
    this.seconds[s] = (this.seconds[s] ?? 0) + 1;
    const minute = Math.floor(now / MINUTE);
    const m = minute % 60;
    if (this.minuteStamps[m] !== minute) {
      this.minuteStamps[m] = minute;
      this.minutes[m] = 0;
    }
    this.minutes[m] = (this.minutes[m] ?? 0) + 1;
    this.lastUse = now;
  }

  counts(now: number): UsageCounts {
    const second = Math.floor(now / SECOND);
    const minute = Math.floor(now / MINUTE);
    let lastMinute = 0;
    let lastHour = 0;
    for (let i = 0; i < 60; i += 1) {
      const s = this.secondStamps[i] ?? -1;
      if (s > second - 60 && s <= second) lastMinute += this.seconds[i] ?? 0;
      const m = this.minuteStamps[i] ?? -1;
      if (m > minute - 60 && m <= minute) lastHour += this.minutes[i] ?? 0;
    }
    return { lastMinute: BigInt(lastMinute), lastHour: BigInt(lastHour) };
  }
}

/**
 * Per-grant use counts over the last minute (one-second resolution) and the last hour
 * (one-minute resolution), in memory, so a condition such as `usage.lastMinute < 60` costs no
 * database round trip. Counts are this instance's: behind N instances a limit admits up to N
 * times as much. Grants unused for an hour are forgotten.
 */
export class UsageWindows {
  readonly #windows = new Map<string, GrantWindow>();
  readonly #now: () => number;
  #nextSweep = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Counts one authorization by `grantId`, now. */
  record(grantId: string): void {
    const now = this.#now();
    let window = this.#windows.get(grantId);
    if (window === undefined) {
      window = new GrantWindow();
      this.#windows.set(grantId, window);
    }
    window.add(now);
    if (now >= this.#nextSweep) this.#sweep(now);
  }

  /** How often `grantId` authorized in the last minute and hour, not counting the decision at hand. */
  counts(grantId: string): UsageCounts {
    const window = this.#windows.get(grantId);
    return window === undefined ? NONE : window.counts(this.#now());
  }

  #sweep(now: number): void {
    this.#nextSweep = now + MINUTE;
    for (const [id, window] of this.#windows) {
      if (window.lastUse <= now - 60 * MINUTE) this.#windows.delete(id);
    }
  }
}

const NONE: UsageCounts = { lastMinute: 0n, lastHour: 0n };

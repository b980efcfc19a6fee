import type { Caller, RequestMeta } from '../modules/keys/authenticate.js';
import { toCelMap } from './cel-value.js';
import { normalizeIp } from './cidr.js';
import type { RequestConditions } from './condition-context.js';
import type { ConditionSettings } from './condition-settings.js';

const clocks = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, bigint> = {
  Sun: 0n,
  Mon: 1n,
  Tue: 2n,
  Wed: 3n,
  Thu: 4n,
  Fri: 5n,
  Sat: 6n,
};

/** Weekday (0 = Sunday) and hour of `time` in `timeZone`. */
export function wallClock(time: Date, timeZone: string): { weekday: bigint; hour: bigint } {
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    clocks.set(timeZone, clock);
  }
  let weekday = 0n;
  let hour = 0n;
  for (const part of clock.formatToParts(time)) {
    if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0n;
    else if (part.type === 'hour') hour = BigInt(Number(part.value) % 24);
  }
  return { weekday, hour };
}

/**
 * The per-request part of the condition context for `caller` (the identity decided on may be
 * another, see `GrantConditions`). Built at most once per operation, when a condition needs it.
 */
export function requestConditionsOf(
  settings: ConditionSettings,
  caller: Caller,
  request: RequestMeta | undefined,
  time: Date,
): RequestConditions {
  const { weekday, hour } = wallClock(time, settings.timeZone);
  const identity = caller.identity;
  return {
    request: {
      ip: normalizeIp(request?.clientIp ?? ''),
      time,
      weekday,
      hour,
      userAgent: request?.userAgent ?? '',
      headers: {},
    },
    device: {},
    identity: {
      id: identity.id,
      kind: identity.kind,
      externalId: identity.externalId ?? '',
      attributes: toCelMap(identity.attributes),
    },
    token: {
      issuer: caller.token?.issuer ?? '',
      subject: caller.token?.subject ?? '',
      claims: toCelMap(caller.token?.claims ?? {}),
    },
  };
}

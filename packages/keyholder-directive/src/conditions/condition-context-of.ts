import { toCelMap } from './cel-value.js';
import { normalizeIp } from './cidr.js';
import type { RequestConditions } from './condition-context.js';
import { wallClock } from './wall-clock.js';

/** What a server outside Keyholder knows of a request, for `conditionContextOf`. */
export interface ConditionContextInput {
  /** The client address (resolve proxies yourself: trust only your own proxies' headers). */
  readonly ip?: string | null;
  /** @default now */
  readonly time?: Date;
  /** The IANA time zone of `request.weekday` and `request.hour`. @default 'UTC' */
  readonly timeZone?: string;
  readonly userAgent?: string | null;
  /** Header values conditions may read; never pass credentials. Names are lower-cased. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly device?: Readonly<Record<string, unknown>>;
  readonly identity?: {
    readonly id?: string;
    readonly kind?: string;
    readonly externalId?: string | null;
    readonly attributes?: Readonly<Record<string, unknown>>;
  };
  readonly token?: {
    readonly issuer?: string;
    readonly subject?: string;
    readonly claims?: Readonly<Record<string, unknown>>;
  };
}

/**
 * The request's part of a condition context, for `remoteGrants({ conditions })` or your own
 * `GrantConditions`: absent values are empty strings and maps (a condition reading one is false
 * or errors, and so denies); whole numbers in maps become CEL ints.
 */
export function conditionContextOf(input: ConditionContextInput): RequestConditions {
  const time = input.time ?? new Date();
  const { weekday, hour } = wallClock(time, input.timeZone ?? 'UTC');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }
  return {
    request: {
      ip: normalizeIp(input.ip ?? ''),
      time,
      weekday,
      hour,
      userAgent: input.userAgent ?? '',
      headers,
    },
    device: toCelMap(input.device ?? {}),
    identity: {
      id: input.identity?.id ?? '',
      kind: input.identity?.kind ?? '',
      externalId: input.identity?.externalId ?? '',
      attributes: toCelMap(input.identity?.attributes ?? {}),
    },
    token: {
      issuer: input.token?.issuer ?? '',
      subject: input.token?.subject ?? '',
      claims: toCelMap(input.token?.claims ?? {}),
    },
  };
}

import { toCelMap } from 'keyholder-directive/conditions/cel-value.js';
import { normalizeIp } from 'keyholder-directive/conditions/cidr.js';
import type { RequestConditions } from 'keyholder-directive/conditions/condition-context.js';
import type { ConditionSettings } from 'keyholder-directive/conditions/condition-settings.js';
import { wallClock } from 'keyholder-directive/conditions/wall-clock.js';
import type { Caller, RequestMeta } from '../modules/keys/authentication.js';
import type { CallerToken } from '../modules/tokens/caller-token.js';

/**
 * The device posture conditions see as `device`: the object value of the token's `DEVICE_CLAIM`
 * when the settings name one and `token` carries it as an object, else what a trusted proxy sent
 * in `DEVICE_HEADER` (`RequestMeta.device`), else `{}`. The claim wins: it is signed by the
 * identity provider and bound to the subject, where the header is believed for the peer's
 * network position alone.
 */
export function deviceOf(
  settings: ConditionSettings,
  request: RequestMeta | undefined,
  token: CallerToken | undefined,
): Record<string, unknown> {
  const claim = settings.deviceClaim === null ? undefined : token?.claims[settings.deviceClaim];
  if (claim !== null && typeof claim === 'object' && !Array.isArray(claim)) return toCelMap(claim);
  return toCelMap(request?.device ?? {});
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
      headers: request?.headers ?? {},
    },
    device: deviceOf(settings, request, caller.token),
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

/**
 * How the per-request part of the condition context is filled (see `requestConditionsOf`), and
 * where the client's address comes from (`resolveClientIp`), which the audit log records too.
 */
export interface ConditionSettings {
  /** `CONDITION_TIME_ZONE`: IANA time zone of `request.weekday` and `request.hour`. @default 'UTC' */
  readonly timeZone: string;
  /**
   * `CONDITION_HEADERS`: request headers conditions may read as `request.headers`, lower-case. No
   * credential header (`authorization`, `cookie`, …) and neither `clientIpHeader` nor
   * `deviceHeader` can be among them. @default []
   */
  readonly headers: readonly string[];
  /**
   * `TRUSTED_PROXIES`: CIDR ranges (a bare address is its own /32 or /128) of the proxies whose
   * `clientIpHeader` and `deviceHeader` are believed. Any other peer's headers are ignored.
   * @default []
   */
  readonly trustedProxies: readonly string[];
  /**
   * `CLIENT_IP_HEADER`: the header a trusted proxy puts the client's address in, lower-case
   * (`x-forwarded-for`, `x-real-ip`, `forwarded`); `null`: the peer address is the client's.
   * @default null
   */
  readonly clientIpHeader: string | null;
  /**
   * `DEVICE_HEADER`: the header a trusted device-posture proxy puts the posture in, as a JSON
   * object of at most 4 KiB (`device`). Ignored unless the peer is a trusted proxy. @default null
   */
  readonly deviceHeader: string | null;
  /**
   * `DEVICE_CLAIM`: the claim of a verified identity-provider token whose object value is the
   * device posture (`device`). When it is present it wins over `deviceHeader`. @default null
   */
  readonly deviceClaim: string | null;
}

export const DEFAULT_CONDITION_SETTINGS: ConditionSettings = {
  timeZone: 'UTC',
  headers: [],
  trustedProxies: [],
  clientIpHeader: null,
  deviceHeader: null,
  deviceClaim: null,
};

/**
 * What a grant condition sees, filled per request (and per decision for `resource` and `usage`).
 * Integers are `bigint`, as CEL's `int` is.
 */
export interface ConditionContext {
  readonly request: {
    /** The client address: the peer, or the trusted proxy's header when the peer is a trusted proxy. */
    readonly ip: string;
    /** When the request arrived. */
    readonly time: Date;
    /** Day of the week in `CONDITION_TIME_ZONE`, 0 = Sunday … 6 = Saturday. */
    readonly weekday: bigint;
    /** Hour of the day in `CONDITION_TIME_ZONE`, 0–23. */
    readonly hour: bigint;
    readonly userAgent: string;
    /** The allow-listed request headers (`CONDITION_HEADERS`), lower-case names. */
    readonly headers: Readonly<Record<string, string>>;
  };
  /** Device posture: from `DEVICE_HEADER` (via a trusted proxy) or the token's `DEVICE_CLAIM`; `{}` when unknown. */
  readonly device: Readonly<Record<string, unknown>>;
  /** The identity whose grant is being decided (the caller, or the one `check` asks about). */
  readonly identity: {
    readonly id: string;
    readonly kind: string;
    readonly externalId: string;
    readonly attributes: Readonly<Record<string, unknown>>;
  };
  /** The resource id being decided, `""` when the decision covers every instance. */
  readonly resource: string;
  /** The resource's type as the enforcement point named it (AuthZEN, `check`), `""` when unknown. */
  readonly resourceType: string;
  /** The resource's properties as the enforcement point described them, `{}` when none. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** How often the grant being decided authorized on this instance in the last minute and hour. */
  readonly usage: { readonly lastMinute: bigint; readonly lastHour: bigint };
  /** The identity-provider token: issuer, subject and claims; empty strings and `{}` for API keys. */
  readonly token: {
    readonly issuer: string;
    readonly subject: string;
    readonly claims: Readonly<Record<string, unknown>>;
  };
}

/** The per-request part of a `ConditionContext`: everything but the resource and `usage`. */
export type RequestConditions = Omit<
  ConditionContext,
  'resource' | 'resourceType' | 'properties' | 'usage'
>;

export type { ResourceFacts } from '../authz/grant-set.js';

/** No type, no properties: what every decision sees unless an enforcement point says more. */
export const NO_RESOURCE_FACTS: import('../authz/grant-set.js').ResourceFacts = Object.freeze({
  type: '',
  properties: Object.freeze({}),
});

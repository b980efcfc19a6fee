import { toCelMap } from 'keyholder-directive/conditions/cel-value.js';
import {
  NO_RESOURCE_FACTS,
  type RequestConditions,
  type ResourceFacts,
} from 'keyholder-directive/conditions/condition-context.js';
import type { ConditionSettings } from 'keyholder-directive/conditions/condition-settings.js';
import {
  type ConditionSink,
  GrantConditions,
} from 'keyholder-directive/conditions/grant-conditions.js';
import type { UsageWindows } from 'keyholder-directive/conditions/usage-windows.js';
import { wallClock } from 'keyholder-directive/conditions/wall-clock.js';
import type { IdentityRow } from '../db/tables.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import type { Caller } from '../modules/keys/authentication.js';
import { deviceOf, requestConditionsOf } from './request-conditions.js';

/** What `check` may override for a "what if" question (holders of `grants:read` only). */
export interface ConditionOverride {
  readonly ip?: string | null;
  readonly time?: Date | null;
  readonly userAgent?: string | null;
  readonly headers?: Readonly<Record<string, string>> | null;
  readonly device?: Readonly<Record<string, unknown>> | null;
  readonly tokenClaims?: Readonly<Record<string, unknown>> | null;
}

/**
 * The conditions side of one request: the scope policies' conditions its authentication read
 * (a subscription's are replaced at each re-authentication), and a `GrantConditions` per
 * operation or event, whose context is built on first need with that moment's time.
 */
export class RequestConditionState {
  scopeConditions: ReadonlyMap<string, string>;
  readonly #settings: ConditionSettings;
  readonly #caller: Caller;
  readonly #usage: UsageWindows | undefined;
  readonly #sink: ConditionSink | undefined;

  constructor(
    scopeConditions: ReadonlyMap<string, string>,
    settings: ConditionSettings,
    caller: Caller,
    usage: UsageWindows | undefined,
    sink?: ConditionSink,
  ) {
    this.scopeConditions = scopeConditions;
    this.#settings = settings;
    this.#caller = caller;
    this.#usage = usage;
    this.#sink = sink;
  }

  /** The gate for the caller's own decisions in one operation (or subscription event). */
  gate(): GrantConditions<ActiveGrant> {
    return new GrantConditions<ActiveGrant>(
      (grant) => this.scopeConditions.get(grant.scope),
      once(() =>
        requestConditionsOf(this.#settings, this.#caller, this.#caller.request, new Date()),
      ),
      this.#usage,
      this.#sink,
    );
  }

  /**
   * The gate for a `check` (or an AuthZEN evaluation) about `identity`: the request's context with
   * `identity` as the one decided on (its token claims only when it is the caller), then
   * `override` applied; `facts` are what the asker said about the resource.
   */
  gateFor(
    identity: IdentityRow,
    override: ConditionOverride | null,
    time: Date,
    facts: ResourceFacts = NO_RESOURCE_FACTS,
  ): GrantConditions<ActiveGrant> {
    return new GrantConditions<ActiveGrant>(
      (grant) => this.scopeConditions.get(grant.scope),
      once(() => {
        const base = requestConditionsOf(this.#settings, this.#caller, this.#caller.request, time);
        return applyOverride(
          withIdentity(base, identity, this.#caller, this.#settings),
          override,
          this.#settings,
        );
      }),
      this.#usage,
      this.#sink,
      facts,
    );
  }
}

function withIdentity(
  base: RequestConditions,
  identity: IdentityRow,
  caller: Caller,
  settings: ConditionSettings,
): RequestConditions {
  if (identity.id === caller.identity.id) return base;
  return {
    ...base,
    // The caller's token is not the other identity's, nor is a device posture its claim gave.
    device: deviceOf(settings, caller.request, undefined),
    identity: {
      id: identity.id,
      kind: identity.kind,
      externalId: identity.externalId ?? '',
      attributes: toCelMap(identity.attributes),
    },
    token: { issuer: '', subject: '', claims: {} },
  };
}

function applyOverride(
  base: RequestConditions,
  override: ConditionOverride | null,
  settings: ConditionSettings,
): RequestConditions {
  if (override === null) return base;
  const time = override.time ?? base.request.time;
  const clock =
    override.time === null || override.time === undefined
      ? { weekday: base.request.weekday, hour: base.request.hour }
      : wallClock(time, settings.timeZone);
  return {
    ...base,
    request: {
      ...base.request,
      ip: override.ip ?? base.request.ip,
      time,
      weekday: clock.weekday,
      hour: clock.hour,
      userAgent: override.userAgent ?? base.request.userAgent,
      headers: override.headers ?? base.request.headers,
    },
    device: override.device ?? base.device,
    token: override.tokenClaims ? { ...base.token, claims: override.tokenClaims } : base.token,
  };
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

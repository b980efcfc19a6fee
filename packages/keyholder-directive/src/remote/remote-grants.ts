import { GrantConditions } from '../conditions/grant-conditions.js';
import { UsageWindows } from '../conditions/usage-windows.js';
import type { DecisionRecorder } from '../directive/decision-recorder.js';
import {
  ANONYMOUS,
  fetchRemoteCaller,
  type RemoteCaller,
  type RemoteGrant,
} from './fetch-remote-caller.js';
import { RemoteGrantsError } from './remote-grants-error.js';
import type { RemoteGrantsOptions } from './remote-grants-options.js';
import { UsageReporter } from './usage-reporter.js';

/**
 * The `grants` and `principal` options of `requiresDirective`, answered by a Keyholder server.
 * Both read one fetch per context object, at most `maxAgeMs` old: a graphql-ws context lives as
 * long as its subscription, whose re-checks before each event fetch again once that has passed.
 */
export interface RemoteGrants<TContext = unknown> {
  /**
   * The caller's live grants. Rejects when Keyholder could not tell (unreachable, timeout,
   * errors), so the directive denies every guarded field; resolves to `[]` for an anonymous
   * caller or a key Keyholder refuses.
   */
  grants(context: TContext): Promise<readonly RemoteGrant[]>;
  /** The caller's identity id, or `null`; from the same fetch as `grants`. */
  principal(context: TContext): Promise<string | null>;
  /**
   * The `gate` option of `requiresDirective`: evaluates conditional grants against
   * `options.conditions`. `undefined` without that option (conditional grants are withheld).
   */
  gate(context: TContext): GrantConditions<RemoteGrant> | undefined;
  /**
   * The `decisions` option of `requiresDirective`: with `reportUsage`, collects the grants that
   * allowed something for the next report; `undefined` without it.
   */
  decisions(context: TContext): DecisionRecorder<RemoteGrant> | undefined;
  /** Sends the uses not reported yet and stops reporting (with `reportUsage`). */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_MAX_AGE_MS = 1000;

/**
 * Enforce `@requires` in your own server against the grants a Keyholder server holds: the
 * caller's key is sent to Keyholder (`me { id grants(active: true) … }`) once per request
 * context, and every failure denies.
 * ```ts
 * const remote = remoteGrants<Ctx>({ url: 'http://keyholder:4000/graphql', apiKey: (ctx) => ctx.apiKey });
 * const { typeDefs, transformer } = requiresDirective<Ctx>({ grants: remote.grants, principal: remote.principal });
 * ```
 * Nothing is kept across requests, so a request that starts after Keyholder's `revokeGrant`
 * returned is denied here too.
 */
export function remoteGrants<TContext = unknown>(
  options: RemoteGrantsOptions<TContext>,
): RemoteGrants<TContext> {
  const endpoint = endpointOf(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(
      `remoteGrants: timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}.`,
    );
  }
  if (typeof options.apiKey !== 'function') {
    throw new TypeError(
      'remoteGrants: apiKey must be a function reading the caller’s key from the context.',
    );
  }
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
    throw new RangeError(
      `remoteGrants: maxAgeMs must be zero or a positive number of milliseconds, got ${String(maxAgeMs)}.`,
    );
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const conditionsOf = options.conditions;
  const usage = new UsageWindows();
  const reporter =
    options.reportUsage === undefined
      ? null
      : new UsageReporter(endpoint, options.reportUsage, fetchImpl, (error) => {
          try {
            options.onReportError?.(error);
          } catch {
            // The hook is for observing.
          }
        });
  // Contexts whose operation evaluates conditions: only they receive conditional grants.
  const gated = new WeakSet<object>();
  // One fetch per context object (per `maxAgeMs`): grants, principal and anything else share it.
  const callers = new WeakMap<object, { caller: Promise<RemoteCaller>; at: number }>();

  const load = (context: TContext): Promise<RemoteCaller> => {
    if (context === null || typeof context !== 'object') {
      return Promise.reject(
        new TypeError('remoteGrants needs an object as the GraphQL context, one per request.'),
      );
    }
    const now = performance.now();
    const cached = callers.get(context);
    if (cached !== undefined && now - cached.at <= maxAgeMs) return cached.caller;
    const caller = fetchCaller(context);
    callers.set(context, { caller, at: now });
    return caller;
  };

  const fetchCaller = async (context: TContext): Promise<RemoteCaller> => {
    const apiKey = options.apiKey(context);
    if (apiKey === null || apiKey === undefined || apiKey === '') return ANONYMOUS;
    try {
      return await fetchRemoteCaller({ endpoint, apiKey, timeoutMs, fetch: fetchImpl });
    } catch (error) {
      if (error instanceof RemoteGrantsError) {
        try {
          options.onError?.(error, context);
        } catch {
          // The hook is for observing; the request is denied either way.
        }
        if (error.reason === 'UNAUTHENTICATED') return ANONYMOUS;
      }
      throw error;
    }
  };

  return {
    grants: async (context) => {
      const { grants } = await load(context);
      if (context !== null && typeof context === 'object' && gated.has(context)) return grants;
      return grants.filter((grant) => grant.condition === null && grant.policyCondition === null);
    },
    principal: async (context) => (await load(context)).identityId,
    decisions: () => reporter?.recorder(),
    close: async () => {
      await reporter?.close();
    },
    gate: (context) => {
      if (conditionsOf === undefined || context === null || typeof context !== 'object') {
        return undefined;
      }
      gated.add(context);
      const used = new Set<string>();
      return new GrantConditions<RemoteGrant>(
        (grant) => grant.policyCondition,
        () => conditionsOf(context),
        usage,
        {
          // Here a grant whose conditions held is the one used: count it once per operation.
          noteConditions: (outcomes) => {
            const grantId = outcomes[0]?.grantId;
            if (grantId === undefined || used.has(grantId)) return;
            if (outcomes.every((outcome) => outcome.result === 'TRUE')) {
              used.add(grantId);
              usage.record(grantId);
            }
          },
        },
      );
    },
  };
}

function endpointOf(url: string | URL): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(
      `remoteGrants: url must be Keyholder's absolute http or https GraphQL endpoint, got "${String(url)}".`,
    );
  }
  return parsed;
}

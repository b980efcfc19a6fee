import type { RequestConditions } from '../conditions/condition-context.js';
import type { RemoteGrantsError } from './remote-grants-error.js';
import type { UsageReportOptions } from './usage-reporter.js';

/** Options of `remoteGrants`. `TContext` is your server's per-request context. */
export interface RemoteGrantsOptions<TContext = unknown> {
  /**
   * Keyholder's GraphQL endpoint, an absolute `http` or `https` URL such as
   * `http://keyholder:4000/graphql`. Anything else is refused when `remoteGrants` is called.
   */
  url: string | URL;
  /**
   * The API key the caller sent to your server (the `<key>` of its `Authorization: Bearer <key>`),
   * read from your context.
   * - `null`, `undefined` or `''`: the caller is anonymous, holding no grants and no identity;
   *   Keyholder is not asked.
   * - a key Keyholder refuses: the same, and `onError` hears `UNAUTHENTICATED`.
   * - If it throws, the operation's guarded fields are denied (fail closed).
   */
  apiKey(context: TContext): string | null | undefined;
  /**
   * How long Keyholder has to answer one fetch, body included, in milliseconds. Past it the
   * request is aborted and the caller holds nothing for this request. @default 3000
   */
  timeoutMs?: number;
  /**
   * How old the grants a long-lived context reuses may be, in milliseconds. A request's context
   * is fetched once; a subscription's lives as long as the subscription, and the directive asks
   * again before each event: grants older than this are fetched again (one fetch per subscriber
   * at most this often, however many events), so a revocation in Keyholder ends the stream with
   * `FORBIDDEN` at the first event after at most this long. Pair it with `requiresDirective`'s
   * `subscriptionRecheckMs` so a quiet stream is re-checked too. @default 1000
   */
  maxAgeMs?: number;
  /**
   * Hears every fetch that gave the caller nothing, once per request, with why
   * (`error.reason`): Keyholder unreachable, too slow, a non-2xx status, GraphQL errors, an
   * unexpected body, or the caller's key refused. Not called for anonymous callers. Use it to log
   * or count; what it throws or returns is ignored, and the request is denied either way.
   * @default none
   */
  onError?(error: RemoteGrantsError, context: TContext): void;
  /**
   * The condition context of the request (its `request`, `device`, `identity` and `token`; see
   * `ConditionContext`), for grants that carry conditions. Without it, a grant with a condition
   * (its own or its scope policy's) authorizes nothing here: it is withheld from `grants`. With
   * it, conditional grants are handed only to operations that use `gate` (pass
   * `gate: remote.gate` to `requiresDirective`), which evaluates them per decision; frequency
   * (`usage`) is counted in this process. Called at most once per operation, at the first
   * conditional grant; if it throws, the grant is denied. @default none
   */
  conditions?(context: TContext): RequestConditions;
  /**
   * Report the grants that allowed something here back to Keyholder, so they count as used
   * (`useCount`, `unusedGrants`, the reaper): batched every `flushMs`, off the request path, with
   * the service's own key (its identity holds `decisions:execute`). Pass `decisions:
   * remote.decisions` to `requiresDirective`, and call `remote.close()` at shutdown.
   * @default no reports (uses made here are invisible to Keyholder, and its reaper spares scopes
   * no use of which was ever reported)
   */
  reportUsage?: UsageReportOptions;
  /** Hears a usage report Keyholder did not take (its ids are kept for the next). @default none */
  onReportError?(error: Error): void;
  /** The `fetch` used to reach Keyholder (to add an agent, tracing or a proxy). @default globalThis.fetch */
  fetch?: typeof fetch;
}

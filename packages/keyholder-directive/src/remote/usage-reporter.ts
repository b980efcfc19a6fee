import type { GraphQLError } from 'graphql';
import type { DecisionRecorder } from '../directive/decision-recorder.js';
import type { RemoteGrant } from './fetch-remote-caller.js';

const REPORT = 'mutation KeyholderReportGrantUse($ids: [ID!]!) { reportGrantUse(grantIds: $ids) }';
const BATCH = 1_000;
/** Ids kept while Keyholder cannot be reached; beyond it the oldest are dropped (and said so). */
const MAX_PENDING = 50_000;

/** Options of `remoteGrants({ reportUsage })`. */
export interface UsageReportOptions {
  /**
   * The service's own API key (not a caller's): its identity must hold `decisions:execute`.
   */
  readonly apiKey: string;
  /** How often uses are sent, in milliseconds. @default 5000 */
  readonly flushMs?: number;
}

/**
 * Collects the grants that allowed something in this process and reports them to Keyholder
 * (`reportGrantUse`), batched and off the request path, with the service's credential: so
 * `unusedGrants` and the reaper see uses made outside Keyholder. A failed report keeps its ids for
 * the next one (at most 50,000, then the oldest go) and tells `onError`.
 */
export class UsageReporter {
  readonly #endpoint: URL;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #onError: (error: Error) => void;
  #pending = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #sending: Promise<void> | null = null;

  constructor(
    endpoint: URL,
    options: UsageReportOptions,
    fetchImpl: typeof fetch,
    onError: (error: Error) => void,
  ) {
    if (typeof options.apiKey !== 'string' || options.apiKey === '') {
      throw new TypeError('remoteGrants: reportUsage.apiKey must be the service’s API key.');
    }
    const flushMs = options.flushMs ?? 5000;
    if (!Number.isFinite(flushMs) || flushMs <= 0) {
      throw new RangeError('remoteGrants: reportUsage.flushMs must be a positive number.');
    }
    this.#endpoint = endpoint;
    this.#apiKey = options.apiKey;
    this.#fetch = fetchImpl;
    this.#onError = onError;
    this.#timer = setInterval(() => {
      this.flush().catch(() => {});
    }, flushMs);
    this.#timer.unref();
  }

  /** A recorder for one operation (the `decisions` option of `requiresDirective`). */
  recorder(): DecisionRecorder<RemoteGrant> {
    return {
      allowed: (_coordinate: string, grants: readonly RemoteGrant[]) => {
        for (const grant of grants) this.#add(grant.id);
      },
      denied: (_coordinate: string, _error: GraphQLError) => {},
    };
  }

  #add(id: string): void {
    if (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.values().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.add(id);
  }

  /** Sends what is pending now; rejects (keeping the ids) when Keyholder does not take them. */
  async flush(): Promise<void> {
    await this.#sending;
    if (this.#pending.size === 0) return;
    const ids = [...this.#pending];
    this.#pending = new Set();
    this.#sending = this.#send(ids).finally(() => {
      this.#sending = null;
    });
    await this.#sending;
  }

  async #send(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      try {
        const response = await this.#fetch(this.#endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${this.#apiKey}`,
          },
          body: JSON.stringify({ query: REPORT, variables: { ids: batch } }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json().catch(() => null)) as {
          errors?: { message?: string }[];
        } | null;
        if (!response.ok || body === null || (body.errors?.length ?? 0) > 0) {
          throw new Error(
            `Keyholder did not take the usage report (${response.status}): ${body?.errors?.[0]?.message ?? 'no answer'}`,
          );
        }
      } catch (error) {
        for (const id of ids.slice(i)) this.#add(id);
        const failure = error instanceof Error ? error : new Error(String(error));
        this.#onError(failure);
        throw failure;
      }
    }
  }

  /** Stops the timer and sends what is pending (errors go to `onError`). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush().catch(() => {});
  }
}

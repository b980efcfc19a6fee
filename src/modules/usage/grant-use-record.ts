import type { GraphQLError } from 'graphql';
import type { UsageWindows } from 'keyholder-directive/conditions/usage-windows.js';
import type { DecisionRecorder } from 'keyholder-directive/directive/decision-recorder.js';
import type { ActiveGrant } from '../grants/live-grants.js';

/**
 * The grants that allowed something during one operation (or one subscription event), for usage
 * counting; every decision is passed on to `next` (the access record) unchanged. A grant counts
 * once however many fields or values it allowed, here and in the in-memory usage windows
 * conditions read. Bookkeeping only: one set insert per grant.
 */
export class GrantUseRecord implements DecisionRecorder<ActiveGrant> {
  readonly #used = new Set<string>();
  readonly #next: DecisionRecorder<ActiveGrant> | undefined;
  readonly #windows: UsageWindows | undefined;

  constructor(next?: DecisionRecorder<ActiveGrant>, windows?: UsageWindows) {
    this.#next = next;
    this.#windows = windows;
  }

  allowed(coordinate: string, grants: readonly ActiveGrant[]): void {
    for (const grant of grants) {
      if (this.#used.has(grant.id)) continue;
      this.#used.add(grant.id);
      this.#windows?.record(grant.id);
    }
    this.#next?.allowed(coordinate, grants);
  }

  /**
   * Counts a use of `grant` decided outside the directive (`check`, an AuthZEN evaluation): once
   * per operation for `unusedGrants` and the reaper, but every time in the usage windows
   * frequency conditions read (each decision is an access the asker is about to make).
   */
  used(grant: ActiveGrant): void {
    this.#used.add(grant.id);
    this.#windows?.record(grant.id);
  }

  denied(coordinate: string, error: GraphQLError): void {
    this.#next?.denied(coordinate, error);
  }

  /** The grant ids used since the last call, and clears them (a subscription counts per event). */
  take(): string[] {
    const ids = [...this.#used];
    this.#used.clear();
    return ids;
  }
}

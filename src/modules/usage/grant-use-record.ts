import type { GraphQLError } from 'graphql';
import type { DecisionRecorder } from '../../directive/decision-recorder.js';
import type { ActiveGrant } from '../keys/authenticate.js';

/**
 * The grants that allowed something during one operation (or one subscription event), for usage
 * counting; every decision is passed on to `next` (the access record) unchanged. A grant counts
 * once however many fields or values it allowed. Bookkeeping only: one set insert per grant.
 */
export class GrantUseRecord implements DecisionRecorder<ActiveGrant> {
  readonly #used = new Set<string>();
  readonly #next: DecisionRecorder<ActiveGrant> | undefined;

  constructor(next?: DecisionRecorder<ActiveGrant>) {
    this.#next = next;
  }

  allowed(coordinate: string, grants: readonly ActiveGrant[]): void {
    for (const grant of grants) this.#used.add(grant.id);
    this.#next?.allowed(coordinate, grants);
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

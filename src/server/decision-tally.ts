import type { GraphQLError } from 'graphql';
import type { DecisionRecorder } from 'keyholder-directive/directive/decision-recorder.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';

/**
 * Decisions (the directive's, and AuthZEN evaluations) counted by outcome for one server's `/metrics`, shared by every
 * request. A scope-only requirement counts once per field coordinate per operation (that is how
 * often it is decided), a resource or self requirement once per value.
 */
export interface DecisionCounts {
  allowed: number;
  denied: number;
}

/** A recorder that adds each decision to `counts` and passes it on to `next` unchanged. */
export class DecisionTally implements DecisionRecorder<ActiveGrant> {
  readonly #counts: DecisionCounts;
  readonly #next: DecisionRecorder<ActiveGrant> | undefined;

  constructor(counts: DecisionCounts, next: DecisionRecorder<ActiveGrant> | undefined) {
    this.#counts = counts;
    this.#next = next;
  }

  allowed(coordinate: string, grants: readonly ActiveGrant[]): void {
    this.#counts.allowed += 1;
    this.#next?.allowed(coordinate, grants);
  }

  denied(coordinate: string, error: GraphQLError): void {
    this.#counts.denied += 1;
    this.#next?.denied(coordinate, error);
  }
}

import { compareRevisions, type Revision } from './revision.js';

/**
 * The revisions one operation dealt with, for its `Keyholder-Revision` header and
 * `extensions.revision`:
 * - `seen`: the newest state its decisions read — the authentication statement's snapshot, or a
 *   newer one a `check(atLeastRevision:)` waited for;
 * - `committed`: the revision of its newest committed change (`null` when it committed none: a
 *   query, or a mutation that failed and was rolled back);
 * - `latest`: the newer of the two, every change up to which the response reflects.
 */
export class RevisionRecord {
  #seen: Revision;
  #committed: Revision | null = null;

  constructor(seen: Revision) {
    this.#seen = seen;
  }

  get seen(): Revision {
    return this.#seen;
  }

  get committed(): Revision | null {
    return this.#committed;
  }

  get latest(): Revision {
    const committed = this.#committed;
    return committed !== null && compareRevisions(committed, this.#seen) > 0
      ? committed
      : this.#seen;
  }

  /** A decision read state at `revision`. */
  saw(revision: Revision): void {
    if (compareRevisions(revision, this.#seen) > 0) this.#seen = revision;
  }

  /** A change committed at `revision` (called only after its transaction committed). */
  commit(revision: Revision): void {
    if (this.#committed === null || compareRevisions(revision, this.#committed) > 0) {
      this.#committed = revision;
    }
  }
}

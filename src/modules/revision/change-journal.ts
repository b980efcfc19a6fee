import { invariant } from 'keyholder-directive/errors.js';
import type { Change } from '../../db/client.js';
import { compareRevisions, type Revision } from './revision.js';

/** The channel each committed change is announced on (its text: the revision; a wake-up only). */
export const CHANGE_CHANNEL = 'keyholder_change';

/** Changes kept when `ChangeJournal` is not told otherwise. */
export const DEFAULT_JOURNAL_SIZE = 4096;

/** What a journal row's `touched` says (`''`: nothing an authentication reads; `*`, null: anything). */
export function parseTouched(text: string | null): ReadonlySet<string> | null {
  if (text === null || text === '*') return null;
  return new Set(text.split(',').filter((id) => id !== ''));
}

/**
 * The committed changes this process was told of, by the revision each advanced from: enough to
 * tell that an authentication read at one revision is still exactly current at a later one.
 * - a chain of changes from `from` to `to` covers every revision in between: each change held the
 *   revision head from the revision it advanced from to its commit, so no other change committed
 *   in between; a change this process was not told of breaks the chain, and the answer is `false`;
 * - at most `size` changes are kept, the oldest dropped first.
 */
export class ChangeJournal {
  readonly #size: number;
  readonly #byFrom = new Map<Revision, Change>();

  constructor(size = DEFAULT_JOURNAL_SIZE) {
    invariant(Number.isInteger(size) && size > 0, 'a journal keeps at least one change.');
    this.#size = size;
  }

  record(change: Change): void {
    if (compareRevisions(change.revision, change.from) <= 0) return;
    this.#byFrom.delete(change.from);
    this.#byFrom.set(change.from, change);
    if (this.#byFrom.size > this.#size) {
      const oldest = this.#byFrom.keys().next().value;
      if (oldest !== undefined) this.#byFrom.delete(oldest);
    }
  }

  /** See `RevisionSource.untouched`. */
  untouched(from: Revision, to: Revision, identities: ReadonlySet<string>): boolean {
    let at = from;
    for (let steps = 0; compareRevisions(at, to) < 0; steps += 1) {
      const change = this.#byFrom.get(at);
      if (change === undefined || change.touched === null || steps >= this.#size) return false;
      for (const id of identities) if (change.touched.has(id)) return false;
      at = change.revision;
    }
    return true;
  }
}

import { invariant } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import type { Revision } from './revision.js';

/** Reads about revisions beyond what a request's own snapshot says. */
export class RevisionService {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * The newest revision the sequence has handed out, committed or not (a change in flight, or one
   * rolled back, has taken its number without publishing it). Nothing above it exists yet.
   */
  async newestIssued(): Promise<Revision> {
    const [row] = await this.#database.query<{ value: string }>(
      'select last_value::text as value from keyholder_revision_seq',
    );
    invariant(row !== undefined, 'keyholder_revision_seq exists.');
    return row.value;
  }
}

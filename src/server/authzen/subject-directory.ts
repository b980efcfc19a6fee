import type { Database } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import { isUuid } from '../../modules/shared/validate.js';

const MAX_REMEMBERED = 10_000;

const LOOKUP = `select id::text as id, external_id from identities
  where external_id = any($1::text[]) or id = any($2::uuid[])`;

/**
 * Which identity an AuthZEN `subject.id` names: the identity with that Keyholder id, else the one
 * with that `externalId`. External ids already looked up are remembered (at most 10,000), so a
 * request names its subjects to the authentication statement up front and costs no statement of
 * its own; every guess is confirmed against the identity rows that statement read (`confirms`),
 * so a changed external id is never followed.
 */
export class SubjectDirectory {
  readonly #database: Database;
  readonly #byExternalId = new Map<string, string>();

  constructor(database: Database) {
    this.#database = database;
  }

  /** The identity id `subjectId` probably names, before any statement; `null` when unknown. */
  guess(subjectId: string): string | null {
    if (isUuid(subjectId)) return subjectId.toLowerCase();
    return this.#byExternalId.get(subjectId) ?? null;
  }

  /** Whether `identity`, as read in the request's snapshot, is the one `subjectId` names. */
  confirms(subjectId: string, identity: IdentityRow | undefined): boolean {
    if (identity === undefined) return false;
    return identity.id === subjectId.toLowerCase() || identity.externalId === subjectId;
  }

  /**
   * The identity ids of `subjectIds` read from the database (one statement): by id first, then by
   * external id. Subjects no identity has are absent.
   */
  async lookup(subjectIds: readonly string[]): Promise<Map<string, string>> {
    if (subjectIds.length === 0) return new Map();
    const uuids = subjectIds.filter(isUuid).map((id) => id.toLowerCase());
    const rows = await this.#database.query<{ id: string; external_id: string | null }>(LOOKUP, [
      subjectIds,
      uuids,
    ]);
    const found = new Map<string, string>();
    for (const subjectId of subjectIds) {
      const byId = rows.find((row) => row.id === subjectId.toLowerCase());
      const byExternal = rows.find((row) => row.external_id === subjectId);
      const match = byId ?? byExternal;
      if (match === undefined) {
        this.#byExternalId.delete(subjectId);
        continue;
      }
      found.set(subjectId, match.id);
      if (byId === undefined) this.#remember(subjectId, match.id);
    }
    return found;
  }

  #remember(externalId: string, identityId: string): void {
    if (this.#byExternalId.size >= MAX_REMEMBERED) this.#byExternalId.clear();
    this.#byExternalId.set(externalId, identityId);
  }
}

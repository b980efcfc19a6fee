import { parseScopeName } from 'keyholder-directive/authz/scope-name.js';
import type { Database } from '../../db/client.js';
import { compareRevisions, type Revision } from '../../modules/revision/revision.js';

const READ_ALIASES = `select h.value::text as revision, a.alias, a.scope
  from revision_head h left join scope_aliases a on true`;

interface AliasRow extends Record<string, unknown> {
  readonly revision: string;
  readonly alias: string | null;
  readonly scope: string | null;
}

/**
 * Which scope an AuthZEN `action.name` means: a scope name as it is, or a scope's alias. The
 * aliases are kept in memory with the revision they were read at, and read again (one statement,
 * aliases and revision in one snapshot) only when a request's authentication saw a newer revision:
 * an alias changed before a request started is always seen by it.
 */
export class ScopeAliasDirectory {
  readonly #database: Database;
  #revision: Revision = '0';
  #aliases = new Map<string, string>();
  #reading: Promise<void> | null = null;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * The scope each of `names` means at `revision` or later, `null` for a name that is neither a
   * valid scope name nor an alias.
   */
  async resolve(names: readonly string[], revision: Revision): Promise<Map<string, string | null>> {
    if (names.some((name) => !name.includes(':'))) await this.refresh(revision);
    const scopes = new Map<string, string | null>();
    for (const name of names) {
      if (name.includes(':')) scopes.set(name, parseScopeName(name) === null ? null : name);
      else scopes.set(name, this.#aliases.get(name) ?? null);
    }
    return scopes;
  }

  /** Every alias of `scope`, sorted. */
  aliasesOf(scope: string): string[] {
    const found: string[] = [];
    for (const [alias, named] of this.#aliases) if (named === scope) found.push(alias);
    return found.sort();
  }

  /** Makes sure the aliases held reflect `revision` or later (reads them again when older). */
  async refresh(revision: Revision): Promise<void> {
    while (compareRevisions(this.#revision, revision) < 0) {
      this.#reading ??= this.#read().finally(() => {
        this.#reading = null;
      });
      await this.#reading;
    }
  }

  async #read(): Promise<void> {
    const rows = await this.#database.query<AliasRow>(READ_ALIASES);
    const aliases = new Map<string, string>();
    for (const row of rows)
      if (row.alias !== null && row.scope !== null) aliases.set(row.alias, row.scope);
    const read = rows[0]?.revision ?? '0';
    if (compareRevisions(read, this.#revision) >= 0) {
      this.#aliases = aliases;
      this.#revision = read;
    }
  }
}

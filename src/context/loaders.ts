import DataLoader from 'dataloader';
import { and, inArray } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { loaderByKey } from '../db/loader-by-key.js';
import {
  type ApiKeyRow,
  apiKeys,
  type GrantRow,
  type GrantUsageRow,
  grants,
  grantUsage,
  type IdentityRow,
  identities,
  type ScopeRow,
  scopes,
} from '../db/tables.js';
import {
  type AccessReviewLoaders,
  createAccessReviewLoaders,
} from '../modules/access-reviews/access-review-loaders.js';
import {
  type ActiveGrant,
  isLive,
  liveGrant,
  loadLiveGrants,
} from '../modules/grants/live-grants.js';
import { createTeamLoaders, type TeamLoaders } from '../modules/groups/team-loaders.js';
import type { Authentication } from '../modules/keys/authentication.js';
import { aliasesOf } from '../modules/scopes/scope-aliases.js';
import { createWebhookLoaders, type WebhookLoaders } from '../modules/webhooks/webhook-loaders.js';
import { traced } from '../telemetry/tracing.js';

/** Per-request batch loaders: one statement per kind of thing, however many objects a query lists. */
export interface Loaders {
  readonly identity: DataLoader<string, IdentityRow | null>;
  readonly scope: DataLoader<string, ScopeRow | null>;
  /** Each scope's aliases, sorted. */
  readonly scopeAliases: DataLoader<string, readonly string[]>;
  /** Whether a scope is defined (primed for the scopes authentication prefetched). */
  readonly scopeExists: DataLoader<string, boolean>;
  /**
   * Live grants in the minimal form decisions use (primed from authentication); an owned agent's
   * capped by its owner's.
   */
  readonly liveGrants: DataLoader<string, readonly ActiveGrant[]>;
  /** Effective live grants as held, an owned agent's not capped: to explain denials only. */
  readonly heldGrants: DataLoader<string, readonly ActiveGrant[]>;
  /** Full grant rows of an identity, live only or all. */
  readonly grants: DataLoader<{ identityId: string; active: boolean }, readonly GrantRow[], string>;
  readonly apiKeys: DataLoader<string, readonly ApiKeyRow[]>;
  /** The services and agents each identity owns, oldest first. */
  readonly ownedIdentities: DataLoader<string, readonly IdentityRow[]>;
  readonly webhooks: WebhookLoaders;
  /** Each grant's usage row (null: never used, or its uses not written yet). */
  readonly grantUsage: DataLoader<string, GrantUsageRow | null>;
  readonly accessReviews: AccessReviewLoaders;
  /** A grant row by id. */
  readonly grant: DataLoader<string, GrantRow | null>;
  readonly teams: TeamLoaders;
}

function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [row]);
    else list.push(row);
  }
  return groups;
}

const grantKey = (k: { identityId: string; active: boolean }) => `${k.identityId}:${k.active}`;

/**
 * The loaders of one request, each built (and primed from the authentication statement) on first
 * use: a `check` touches two of the six, most requests no more than three.
 */
class RequestLoaders implements Loaders {
  readonly #database: Database;
  readonly #auth: Authentication;
  #identity: Loaders['identity'] | undefined;
  #scope: Loaders['scope'] | undefined;
  #scopeExists: Loaders['scopeExists'] | undefined;
  #scopeAliases: Loaders['scopeAliases'] | undefined;
  #liveGrants: Loaders['liveGrants'] | undefined;
  #heldGrants: Loaders['heldGrants'] | undefined;
  #grants: Loaders['grants'] | undefined;
  #apiKeys: Loaders['apiKeys'] | undefined;
  #ownedIdentities: Loaders['ownedIdentities'] | undefined;
  #webhooks: Loaders['webhooks'] | undefined;
  #grantUsage: Loaders['grantUsage'] | undefined;
  #accessReviews: Loaders['accessReviews'] | undefined;
  #grant: Loaders['grant'] | undefined;
  #teams: Loaders['teams'] | undefined;

  constructor(database: Database, auth: Authentication) {
    this.#database = database;
    this.#auth = auth;
  }

  get identity(): Loaders['identity'] {
    if (this.#identity !== undefined) return this.#identity;
    const { db } = this.#database;
    const loader = loaderByKey<IdentityRow>(
      (keys) => db.select().from(identities).where(inArray(identities.id, keys)),
      (row) => row.id,
    );
    for (const [id, row] of this.#auth.identities) loader.prime(id, row);
    this.#identity = loader;
    return loader;
  }

  get scope(): Loaders['scope'] {
    if (this.#scope !== undefined) return this.#scope;
    const { db } = this.#database;
    this.#scope = loaderByKey<ScopeRow>(
      (keys) => db.select().from(scopes).where(inArray(scopes.name, keys)),
      (row) => row.name,
    );
    return this.#scope;
  }

  get scopeAliases(): Loaders['scopeAliases'] {
    if (this.#scopeAliases !== undefined) return this.#scopeAliases;
    const { db } = this.#database;
    this.#scopeAliases = new DataLoader<string, readonly string[]>(async (names) => {
      const found = await aliasesOf(db, names);
      return names.map((name) => found.get(name) ?? []);
    });
    return this.#scopeAliases;
  }

  get scopeExists(): Loaders['scopeExists'] {
    if (this.#scopeExists !== undefined) return this.#scopeExists;
    const loader = new DataLoader<string, boolean>(async (names) => {
      const rows = await Promise.all(names.map((n) => this.scope.load(n)));
      return rows.map((r) => r !== null);
    });
    const { prefetchedScopes, definedScopes } = this.#auth;
    for (const name of prefetchedScopes) loader.prime(name, definedScopes.has(name));
    this.#scopeExists = loader;
    return loader;
  }

  get liveGrants(): Loaders['liveGrants'] {
    if (this.#liveGrants !== undefined) return this.#liveGrants;
    const loader = new DataLoader<string, readonly ActiveGrant[]>(async (ids) => {
      const { grants: effective } = await traced(
        'keyholder.grants.load',
        { 'keyholder.identities': ids.length },
        () => loadLiveGrants(this.#database.db, ids),
      );
      return ids.map((id) => effective.get(id) ?? []);
    });
    const { identities: loaded, grantsByIdentity } = this.#auth;
    for (const id of loaded.keys()) loader.prime(id, grantsByIdentity.get(id) ?? []);
    this.#liveGrants = loader;
    return loader;
  }

  get heldGrants(): Loaders['heldGrants'] {
    this.#heldGrants ??= new DataLoader<string, readonly ActiveGrant[]>(async (ids) => {
      const { grants: held } = await loadLiveGrants(this.#database.db, ids, { uncapped: true });
      return ids.map((id) => held.get(id) ?? []);
    });
    return this.#heldGrants;
  }

  get grants(): Loaders['grants'] {
    if (this.#grants !== undefined) return this.#grants;
    const { db } = this.#database;
    this.#grants = new DataLoader<
      { identityId: string; active: boolean },
      readonly GrantRow[],
      string
    >(
      async (keys) => {
        const ids = [...new Set(keys.map((k) => k.identityId))];
        const wantAll = keys.some((k) => !k.active);
        const rows = await db
          .select()
          .from(grants)
          .where(
            wantAll
              ? inArray(grants.identityId, ids)
              : and(inArray(grants.identityId, ids), liveGrant()),
          )
          .orderBy(grants.createdAt, grants.id);
        const now = Date.now();
        const groups = groupBy(rows, (r) => r.identityId ?? '');
        return keys.map((k) =>
          (groups.get(k.identityId) ?? []).filter((g) => !k.active || isLive(g, now)),
        );
      },
      { cacheKeyFn: grantKey },
    );
    return this.#grants;
  }

  get apiKeys(): Loaders['apiKeys'] {
    if (this.#apiKeys !== undefined) return this.#apiKeys;
    const { db } = this.#database;
    this.#apiKeys = new DataLoader<string, readonly ApiKeyRow[]>(async (ids) => {
      const rows = await db
        .select()
        .from(apiKeys)
        .where(inArray(apiKeys.identityId, [...ids]))
        .orderBy(apiKeys.createdAt, apiKeys.id);
      const groups = groupBy(rows, (r) => r.identityId);
      return ids.map((id) => groups.get(id) ?? []);
    });
    return this.#apiKeys;
  }

  get ownedIdentities(): Loaders['ownedIdentities'] {
    if (this.#ownedIdentities !== undefined) return this.#ownedIdentities;
    const { db } = this.#database;
    this.#ownedIdentities = new DataLoader<string, readonly IdentityRow[]>(async (ids) => {
      const rows = await db
        .select()
        .from(identities)
        .where(inArray(identities.ownerId, [...ids]))
        .orderBy(identities.createdAt, identities.id);
      const groups = groupBy(rows, (r) => r.ownerId ?? '');
      return ids.map((id) => groups.get(id) ?? []);
    });
    return this.#ownedIdentities;
  }

  get grantUsage(): Loaders['grantUsage'] {
    if (this.#grantUsage !== undefined) return this.#grantUsage;
    const { db } = this.#database;
    this.#grantUsage = loaderByKey<GrantUsageRow>(
      (keys) => db.select().from(grantUsage).where(inArray(grantUsage.grantId, keys)),
      (row) => row.grantId,
    );
    return this.#grantUsage;
  }

  get webhooks(): Loaders['webhooks'] {
    this.#webhooks ??= createWebhookLoaders(this.#database);
    return this.#webhooks;
  }

  get accessReviews(): Loaders['accessReviews'] {
    this.#accessReviews ??= createAccessReviewLoaders(this.#database);
    return this.#accessReviews;
  }

  get grant(): Loaders['grant'] {
    if (this.#grant !== undefined) return this.#grant;
    const { db } = this.#database;
    this.#grant = loaderByKey<GrantRow>(
      (keys) => db.select().from(grants).where(inArray(grants.id, keys)),
      (row) => row.id,
    );
    return this.#grant;
  }

  get teams(): Loaders['teams'] {
    this.#teams ??= createTeamLoaders(this.#database);
    return this.#teams;
  }
}

export function createLoaders(database: Database, auth: Authentication): Loaders {
  return new RequestLoaders(database, auth);
}

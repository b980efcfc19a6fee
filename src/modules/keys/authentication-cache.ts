import { invariant } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import { type ActiveGrant, stillLive } from '../grants/live-grants.js';
import { compareRevisions, HEAD_SQL, type Revision } from '../revision/revision.js';
import { RevisionRecord } from '../revision/revision-record.js';
import type { Authentication, Caller, Prefetch } from './authentication.js';

/** Entries kept when `AUTHENTICATION_CACHE_SIZE` is not set. */
export const DEFAULT_AUTHENTICATION_CACHE_SIZE = 1000;

/** What `/healthz` shows of the cache: its bound, its size, and how requests were served. */
export interface AuthenticationCacheStats {
  readonly maxEntries: number;
  readonly entries: number;
  /** Requests answered from an entry: no statement, or one reading `revision_head` when reading through. */
  readonly hits: number;
  /**
   * Requests that ran the authentication statement: no entry (one statement), or an entry older
   * than `revision_head` (two statements, unless this process had already seen a newer revision).
   */
  readonly misses: number;
  /**
   * Of the hits, those from an entry older than the newest revision, carried forward because no
   * change since touched its identities (`RevisionSource.untouched`).
   */
  readonly carried: number;
  /**
   * Requests that joined another request's authentication statement for the same credential,
   * in flight and sent when this process already knew every revision the joiner must see.
   */
  readonly shared: number;
}

/**
 * Which credential an entry is for: an API key's SHA-256 hash, or a token subject's externalId with
 * the token's issuer and groups claim (which TOKEN memberships count: `TokenGroups`).
 */
export type CredentialKey =
  | { readonly apiKeyHash: string }
  | {
      readonly externalId: string;
      readonly issuer: string;
      readonly groups: readonly string[];
    };

interface Entry {
  /** The newest revision at which it is known current: where it was read, or carried to. */
  revision: Revision;
  /** Every identity it depends on: the caller, its owner, the prefetched (found or not). */
  readonly identities: ReadonlySet<string>;
  /**
   * Frozen, without the per-request `caller.revisions`; replaced (by `revive`) with the same less
   * the grants that have expired since, so each expiry costs one copy, not one per request.
   */
  authentication: Authentication;
  /** The earliest `expiresAt` (epoch ms) among its grants: until then a hit copies nothing. */
  nextExpiry: number;
}

/** An authentication statement in flight for one key, and what it was sent knowing. */
interface Flight {
  /** `revisionSource.known()` when it was sent: its snapshot is at or past it (`null`: unknown). */
  readonly from: Revision | null;
  readonly entry: Promise<Entry>;
}

/**
 * Successful authentications of this process, reused while nothing they were read from has
 * changed. Every change to identities, keys, scopes or grants advances `revision_head` in its own
 * transaction (its audit event's trigger), and the authentication statement reads the head in the
 * snapshot it reads everything else from; so an entry read at revision R is exactly current while
 * no newer revision has been committed.
 * - with a `Database.revisionSource` that knows the newest revision (the `RevisionFeed`: pushed
 *   invalidation under a live lease), an entry at or past it is a hit with no statement; a change
 *   returns only once every such instance has applied it, so a request that starts after a change
 *   returned never reuses anything read before it, unless that change is known not to touch it:
 *   an older entry is carried to the newest revision, still with no statement, when the source
 *   knows every change since it was read and none touched its identities' rows (identity, keys,
 *   direct grants) or anything else an authentication reads (`RevisionSource.untouched`);
 * - otherwise (reading through: no lease, listener down, PGlite closed) `authenticate` with an
 *   entry first reads `revision_head` in a statement of its own, sent after the request asked: the
 *   same head, a hit; a newer one, the statement runs again. Concurrent requests share reads: one
 *   that asks while a read is in flight waits for the next, which is sent once that one is
 *   answered and serves everyone who asked meanwhile (never a read sent before they asked); a
 *   read that fails fails the request;
 * - what time changes is re-checked on a hit with the current clock: grants whose `expiresAt` has
 *   passed are dropped from `caller.grants` and `grantsByIdentity` (the credential's own expiry is
 *   the authenticator's to check: an API key's `keyExpiresAt`, a token's `exp`);
 * - a hit gets its own `RevisionRecord` and its own copies of the identity rows; everything else
 *   in an entry (grants, attributes, scopes) is frozen and shared;
 * - keyed by the credential (never a raw secret) and the prefetch; at most `maxEntries`, least
 *   recently used first out; `maxEntries` 0 caches nothing (every request runs the statement);
 * - only successful authentications are kept: a refusal is decided again on each request;
 * - concurrent misses for the same key share one statement (single flight), strictly: a request
 *   joins a statement in flight only when that statement was sent while this process knew (from
 *   its `revisionSource`) a revision at or past the newest it knows now, so every change that had
 *   returned before the request started is in the snapshot it joins; otherwise (reading through,
 *   or a change applied since the statement was sent) it sends its own. A joiner gets the same
 *   refusal, or a hit's copy of the same authentication (`shared` counts them).
 */
export class AuthenticationCache {
  readonly #database: Database;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Entry>();
  /** The newest revision this process has read: an entry older than it can never hit again. */
  #newest: Revision = '0';
  #hits = 0;
  #misses = 0;
  #shared = 0;
  #carried = 0;
  /** The authentication statement in flight per key (the newest sent). */
  readonly #flights = new Map<string, Flight>();
  /** The `revision_head` read sent and not yet answered. */
  #inFlightRead: Promise<Revision> | null = null;
  /** The read to send once `#inFlightRead` is answered, for everyone who asked meanwhile. */
  #nextRead: Promise<Revision> | null = null;

  constructor(database: Database, maxEntries = DEFAULT_AUTHENTICATION_CACHE_SIZE) {
    invariant(Number.isInteger(maxEntries) && maxEntries >= 0, 'maxEntries is a whole number.');
    this.#database = database;
    this.#maxEntries = maxEntries;
  }

  /**
   * The authentication of `credential` with `prefetch`: from an entry still current at
   * `revision_head`, else from `load` (which runs the authentication statement and throws for a
   * refused credential), kept for the next request.
   */
  async authenticate(
    credential: CredentialKey,
    prefetch: Prefetch,
    load: () => Promise<Authentication>,
  ): Promise<Authentication> {
    if (this.#maxEntries === 0) {
      this.#misses += 1;
      return load();
    }
    const key = JSON.stringify([credential, prefetch.identityIds, prefetch.scopes]);
    const entry = this.#entries.get(key);
    if (entry !== undefined && (await this.#current(entry))) {
      this.#hits += 1;
      // Most recently used last, unless a newer entry took its place meanwhile.
      if (this.#entries.get(key) === entry) {
        this.#entries.delete(key);
        this.#entries.set(key, entry);
      }
      return revive(entry, Date.now());
    }
    const flight = this.#flights.get(key);
    const required = this.#database.revisionSource.known();
    if (
      flight !== undefined &&
      flight.from !== null &&
      required !== null &&
      compareRevisions(flight.from, required) >= 0
    ) {
      this.#shared += 1;
      return revive(await flight.entry, Date.now());
    }
    this.#misses += 1;
    let resolveEntry: (entry: Entry) => void = () => {};
    let rejectEntry: (error: unknown) => void = () => {};
    const loaded = new Promise<Entry>((resolve, reject) => {
      resolveEntry = resolve;
      rejectEntry = reject;
    });
    // Nobody may have joined: a refusal is then answered to this request alone.
    loaded.catch(settled);
    const mine: Flight = { from: required, entry: loaded };
    this.#flights.set(key, mine);
    try {
      const authentication = await load();
      resolveEntry(this.#store(key, authentication, prefetch));
      return authentication;
    } catch (error) {
      rejectEntry(error);
      throw error;
    } finally {
      if (this.#flights.get(key) === mine) this.#flights.delete(key);
    }
  }

  stats(): AuthenticationCacheStats {
    return {
      maxEntries: this.#maxEntries,
      entries: this.#entries.size,
      hits: this.#hits,
      misses: this.#misses,
      carried: this.#carried,
      shared: this.#shared,
    };
  }

  /** Whether `entry` is current at the newest revision (carried there when nothing touched it). */
  async #current(entry: Entry): Promise<boolean> {
    const source = this.#database.revisionSource;
    const known = source.known();
    if (known !== null) {
      // Nor older than a revision this process has read (a load may see past the notifications).
      const newest = compareRevisions(known, this.#newest) >= 0 ? known : this.#newest;
      if (compareRevisions(entry.revision, newest) >= 0) return true;
      if (!source.untouched(entry.revision, newest, entry.identities)) return false;
      entry.revision = newest;
      this.#carried += 1;
      return true;
    }
    // An entry older than a revision this process has read cannot be current: no need to look.
    if (compareRevisions(entry.revision, this.#newest) < 0) return false;
    return compareRevisions(entry.revision, await this.#readHead()) >= 0;
  }

  /** `revision_head` as read by a statement sent after this call (shared, see the class). */
  #readHead(): Promise<Revision> {
    if (this.#nextRead !== null) return this.#nextRead;
    const inFlight = this.#inFlightRead;
    if (inFlight === null) return this.#sendRead();
    const next = inFlight.then(settled, settled).then(() => {
      this.#nextRead = null;
      return this.#sendRead();
    });
    this.#nextRead = next;
    return next;
  }

  #sendRead(): Promise<Revision> {
    const read = this.#database.queryArrays<[Revision]>(HEAD_SQL).then(([row]) => {
      invariant(row !== undefined, 'revision_head holds its one row.');
      this.#saw(row[0]);
      return row[0];
    });
    this.#inFlightRead = read;
    const done = () => {
      if (this.#inFlightRead === read) this.#inFlightRead = null;
    };
    read.then(done, done);
    return read;
  }

  #saw(revision: Revision): void {
    if (compareRevisions(revision, this.#newest) > 0) this.#newest = revision;
  }

  /** Keeps `authentication` unless a newer one is kept; answers its entry either way. */
  #store(key: string, authentication: Authentication, prefetch: Prefetch): Entry {
    this.#saw(authentication.revision);
    const kept = frozen(authentication);
    const entry: Entry = {
      revision: authentication.revision,
      identities: new Set([...kept.identities.keys(), ...prefetch.identityIds]),
      authentication: kept,
      nextExpiry: nextExpiryOf(kept),
    };
    // A slower load of an older snapshot never replaces a newer one (stale ones are replaced here).
    const current = this.#entries.get(key);
    if (current !== undefined && compareRevisions(current.revision, authentication.revision) > 0) {
      return entry;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return entry;
  }
}

const settled = () => {};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * The entry form of a loaded authentication: grants and prefetched scopes frozen, identity rows
 * frozen copies (a request may tag the rows it is given, as federation's `_entities` does), its
 * `RevisionRecord` left out.
 */
function frozen(authentication: Authentication): Authentication {
  const { revisions: _perRequest, ...caller } = authentication.caller;
  const identities = new Map<string, IdentityRow>();
  for (const [id, row] of authentication.identities) {
    identities.set(
      id,
      Object.freeze({ ...row, attributes: deepFreeze(structuredClone(row.attributes)) }),
    );
  }
  for (const grants of authentication.grantsByIdentity.values()) deepFreeze(grants);
  deepFreeze(authentication.prefetchedScopes);
  const identity = identities.get(caller.identity.id);
  invariant(identity !== undefined, 'the caller is one of the identities loaded.');
  return Object.freeze({
    ...authentication,
    identities,
    caller: deepFreeze({ ...caller, identity }),
  });
}

/** Grants whose expiry has not passed at `now` (frozen); the same array when none has. */
function live(grants: readonly ActiveGrant[], now: number): readonly ActiveGrant[] {
  const left = stillLive(grants, now);
  return left === grants ? grants : Object.freeze(left);
}

/** The earliest expiry among an authentication's grants (epoch ms; infinite when none expires). */
function nextExpiryOf(authentication: Authentication): number {
  let next = Number.POSITIVE_INFINITY;
  const lists = [authentication.caller.grants, ...authentication.grantsByIdentity.values()];
  for (const list of lists) {
    for (const grant of list) {
      const at = grant.expiresAt?.getTime();
      if (at !== undefined && at < next) next = at;
    }
  }
  return next;
}

/**
 * A hit's authentication: the entry at `now`, with a record and identity rows of its own. The
 * grant lists are the entry's own arrays (and so keep their shared `GrantSet` index) until one of
 * their grants expires; then the entry itself is pruned, once, to what is live at `now`.
 */
function revive(entry: Entry, now: number): Authentication {
  if (now >= entry.nextExpiry) {
    const stale = entry.authentication;
    let grantsByIdentity = stale.grantsByIdentity;
    for (const grants of stale.grantsByIdentity.values()) {
      if (live(grants, now) === grants) continue;
      grantsByIdentity = new Map([...grantsByIdentity].map(([id, list]) => [id, live(list, now)]));
      break;
    }
    const pruned: Authentication = Object.freeze({
      ...stale,
      grantsByIdentity,
      caller: Object.freeze({ ...stale.caller, grants: live(stale.caller.grants, now) }),
    });
    entry.authentication = pruned;
    entry.nextExpiry = nextExpiryOf(pruned);
  }
  const cached = entry.authentication;
  // Rows of the request's own, so whatever tags them stays in this request.
  const identities = new Map<string, IdentityRow>();
  for (const [id, row] of cached.identities) identities.set(id, { ...row });
  const caller: Caller = {
    ...cached.caller,
    identity: identities.get(cached.caller.identity.id) ?? { ...cached.caller.identity },
    revisions: new RevisionRecord(entry.revision),
  };
  return { ...cached, caller, identities, revision: entry.revision };
}

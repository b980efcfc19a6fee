import { capToKeyScopes, type KeyScope } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { invariant } from 'keyholder-directive/errors.js';
import type { Db } from '../../db/client.js';
import type { IdentityRow } from '../../db/tables.js';
import {
  type ActiveGrant,
  capAgentsToOwners,
  type HoldingsRow,
  readHoldingsRows,
} from '../grants/live-grants.js';
import type { Revision } from '../revision/revision.js';
import { RevisionRecord } from '../revision/revision-record.js';
import type { CallerToken } from '../tokens/caller-token.js';

/** The authenticated caller of one operation. */
export interface Caller {
  readonly identity: IdentityRow;
  /** The API key in use; null when the caller authenticated with a token. */
  readonly keyId: string | null;
  /** When the credential in use expires: the API key's expiry, or the token's `exp`. */
  readonly keyExpiresAt: Date | null;
  /**
   * The scoped key's entries: `grants` are the identity's intersected with them (`capToKeyScopes`).
   * `null` for an unscoped key or a token: the caller acts with everything its identity holds.
   */
  readonly keyScopes: readonly KeyScope[] | null;
  /**
   * The JWK thumbprint the credential is bound to (a DPoP-bound key, a token with `cnf.jkt`):
   * every request must prove possession of its private key. `null`: a bearer credential.
   */
  readonly keyJkt: string | null;
  /** The identity-provider token in use; absent for API keys. */
  readonly token?: CallerToken;
  /**
   * The caller's grants that were live when the request started, as it may use them: its
   * identity's, capped by its key's scopes.
   */
  readonly grants: readonly ActiveGrant[];
  /** Where the request came from, recorded with every change it makes. */
  readonly request?: RequestMeta;
  /**
   * The revisions this caller's operation saw (from the authentication statement on) and
   * committed; changes made through `runChange` report to it.
   */
  readonly revisions?: RevisionRecord;
}

/**
 * The request a change came in on, as the audit log records it (and conditions read it); the
 * optional fields are present only when they say something (see `requestMetaOf`).
 */
export interface RequestMeta {
  readonly requestId: string;
  /** The client's address: the peer's, or a trusted proxy's `CLIENT_IP_HEADER` (`resolveClientIp`). */
  readonly clientIp: string | null;
  readonly userAgent: string | null;
  /** The connection's peer address, when the client's was taken from a trusted proxy's header. */
  readonly peerIp?: string | null;
  /** The allow-listed headers the request carried (`CONDITION_HEADERS`), lower-case names. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The device posture a trusted proxy sent in `DEVICE_HEADER`. */
  readonly device?: Readonly<Record<string, unknown>>;
}

/** What one authentication statement returns besides the caller, to spare later round trips. */
export interface Authentication {
  readonly caller: Caller;
  /**
   * Live grants of the prefetched identities (and the caller), by identity id, as decisions use
   * them: an owned agent's capped by its owner's.
   */
  readonly grantsByIdentity: ReadonlyMap<string, readonly ActiveGrant[]>;
  /** Rows of the prefetched identities (and the caller). */
  readonly identities: ReadonlyMap<string, IdentityRow>;
  /** Which of the prefetched scope names exist. */
  readonly definedScopes: ReadonlySet<string>;
  /** The scope names that were prefetched. */
  readonly prefetchedScopes: readonly string[];
  /**
   * The revision of the state this statement read (`revision_head`, in the same snapshot as the
   * key and grants): every change up to it is reflected in what was loaded, none after it.
   */
  readonly revision: Revision;
  /** The CEL conditions of scope policies, by scope name: every grant of the scope must also satisfy its scope's. */
  readonly scopeConditions: ReadonlyMap<string, string>;
}

/** Identities and scopes an operation will ask about, read in its authentication statement. */
export interface Prefetch {
  readonly identityIds: readonly string[];
  readonly scopes: readonly string[];
}

/** The statement's scope-condition column (JSON text from postgres.js, an object from PGlite). */
function readScopeConditions(value: HoldingsRow[20]): Map<string, string> {
  if (value === null) return new Map();
  const object = typeof value === 'string' ? (JSON.parse(value) as Record<string, string>) : value;
  return new Map(Object.entries(object));
}

/** The key-scopes column of the statement (JSON text from postgres.js, an array from PGlite). */
export function readKeyScopes(value: HoldingsRow[21]): readonly KeyScope[] | null {
  if (value === null) return null;
  return typeof value === 'string' ? (JSON.parse(value) as KeyScope[]) : value;
}

/**
 * The authentication in the rows of a `holdingsStatement` (at least one) whose caller is
 * `callerId`, holding the credential given: the caller's and the prefetched identities' live grants
 * capped by their owners (an owner not read yet costs one more statement); the caller's own, as
 * `caller.grants`, also capped by its key's scopes (`grantsByIdentity` keeps its identity's: a
 * decision about that identity is not narrowed by the key asking).
 */
export async function authenticationOf(
  db: Db,
  rows: readonly HoldingsRow[],
  prefetch: Prefetch,
  callerId: string,
  credential: Pick<Caller, 'keyId' | 'keyExpiresAt' | 'keyScopes' | 'keyJkt' | 'token'>,
): Promise<Authentication> {
  const first = rows[0];
  invariant(first !== undefined, 'an authentication statement found the caller.');
  const holdings = readHoldingsRows(rows);
  const identity = holdings.identities.get(callerId);
  invariant(identity !== undefined, 'the caller is one of the identities read.');
  const grantsByIdentity = await capAgentsToOwners(db, holdings);
  const revision = first[18];
  invariant(revision !== null, 'revision_head holds its one row.');
  return {
    caller: {
      identity,
      ...credential,
      grants: capToKeyScopes(grantsByIdentity.get(identity.id) ?? [], credential.keyScopes),
      revisions: new RevisionRecord(revision),
    },
    grantsByIdentity,
    identities: holdings.identities,
    definedScopes: new Set<string>(first[16]),
    prefetchedScopes: prefetch.scopes,
    revision,
    scopeConditions: readScopeConditions(first[20]),
  };
}

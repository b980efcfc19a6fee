import { unauthenticated } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import type { Authentication, Prefetch, RequestMeta } from '../keys/authentication.js';
import type { AuthenticationCache } from '../keys/authentication-cache.js';
import { authenticateSubject } from './authenticate-subject.js';
import type { CallerToken } from './caller-token.js';
import { createTokenIdentity } from './create-token-identity.js';
import { externalIdOf, type OidcIssuer } from './oidc-issuers.js';
import { TokenGroupFeed } from './token-group-feed.js';
import { TokenVerifier, type VerifiedToken } from './token-verifier.js';

/**
 * Authenticates OIDC JWT bearer tokens: verifies the token (`TokenVerifier`), maps (`iss`, `sub`)
 * to an identity's `externalId` with the issuer's `externalIdFormat`, and loads that identity
 * with its live grants as API keys do (one statement).
 * - no identity with that externalId: `UNAUTHENTICATED`, unless the issuer has
 *   `createIdentities`, then a USER identity with zero grants is created first (once);
 * - a disabled identity: `UNAUTHENTICATED`;
 * - with a `cache`, the identity's authentication still current at `revision_head` is reused
 *   (keyed by externalId, issuer, groups claim and prefetch); the token itself is verified on
 *   every request and is the caller's `token` (its claims, its `exp` as `keyExpiresAt`), never a
 *   cached one;
 * - before the caller's grants are loaded, the issuer's groups claim (`groupsClaim`) is reconciled
 *   with the identity's TOKEN memberships, once per token (`TokenGroupFeed`); a malformed or
 *   oversized claim refuses the token. Those memberships count on this token's requests only, for
 *   the groups it names (`TokenGroups`).
 */
export class TokenAuthenticator {
  readonly #verifier: TokenVerifier;
  readonly #groups: TokenGroupFeed;

  constructor(
    private readonly database: Database,
    issuers: readonly OidcIssuer[],
    log: (message: string, error?: unknown) => void,
    private readonly cache?: AuthenticationCache,
  ) {
    this.#verifier = new TokenVerifier(issuers, log);
    this.#groups = new TokenGroupFeed(database, log);
  }

  async authenticate(
    token: string,
    prefetch: Prefetch = { identityIds: [], scopes: [] },
    request?: RequestMeta,
  ): Promise<Authentication> {
    const verified = await this.#verifier.verify(token);
    const { trustedIssuer, payload: _payload, ...callerToken } = verified;
    const externalId = externalIdOf(trustedIssuer, verified.subject);
    const feed = () =>
      trustedIssuer.groupsClaim === null
        ? Promise.resolve(true)
        : this.#groups.reconcile(externalId, verified, verified.groups);
    const known = await feed();
    const load = () => this.#load(verified, externalId, callerToken, prefetch, request);
    const cached = () =>
      this.cache === undefined
        ? load()
        : this.cache.authenticate(
            { externalId, issuer: verified.issuer, groups: verified.groups },
            prefetch,
            load,
          );
    let auth = await cached();
    // Created by this request: its memberships are added now, and read by a second load.
    if (!known && (await feed())) auth = await cached();
    if (this.cache === undefined) return auth;
    return {
      ...auth,
      caller: {
        ...auth.caller,
        token: callerToken,
        keyExpiresAt: callerToken.expiresAt,
        keyJkt: callerToken.jkt,
      },
    };
  }

  async #load(
    verified: VerifiedToken,
    externalId: string,
    callerToken: CallerToken,
    prefetch: Prefetch,
    request: RequestMeta | undefined,
  ): Promise<Authentication> {
    const { trustedIssuer } = verified;
    let auth = await authenticateSubject(this.database, externalId, callerToken, prefetch);
    if (auth === null) {
      if (!trustedIssuer.createIdentities) {
        throw unauthenticated(
          `No identity has externalId "${externalId}"; an administrator must create it (issuer "${trustedIssuer.issuer}" does not create identities).`,
          { reason: 'UNKNOWN_SUBJECT' },
        );
      }
      await createTokenIdentity(this.database, verified, externalId, request);
      auth = await authenticateSubject(this.database, externalId, callerToken, prefetch);
      if (auth === null) throw new Error(`The identity of ${externalId} vanished after creation.`);
    }
    if (auth.caller.identity.status !== 'ACTIVE') {
      throw unauthenticated(
        `The identity "${auth.caller.identity.name}" of this token's subject is disabled.`,
        { reason: 'DISABLED_IDENTITY' },
      );
    }
    return auth;
  }
}

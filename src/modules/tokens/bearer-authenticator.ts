import type { Database } from '../../db/client.js';
import { authenticate } from '../keys/authenticate.js';
import type { Authentication, Prefetch, RequestMeta } from '../keys/authentication.js';
import type { AuthenticationCache } from '../keys/authentication-cache.js';
import { DpopReplayCache } from '../keys/dpop-replay-cache.js';
import {
  authenticateWithPossession,
  BEARER,
  type Possession,
} from '../keys/proof-of-possession.js';
import type { OidcIssuer } from './oidc-issuers.js';
import { TokenAuthenticator } from './token-authenticator.js';
import { looksLikeJwt } from './token-verifier.js';

/**
 * Authenticates the credential of `Authorization: Bearer <credential>` (or `DPoP <credential>`),
 * API key or token, held to its DPoP binding by `possession` (default: presented as a bearer, so
 * a bound credential is refused).
 */
export type AuthenticateBearer = (
  credential: string,
  prefetch?: Prefetch,
  request?: RequestMeta,
  possession?: Possession,
) => Promise<Authentication>;

/**
 * Tells the two kinds of bearer credential apart by shape: with issuers configured, a JWT (three
 * base64url segments) is an identity-provider token; anything else, and every credential when no
 * issuer is configured, is an API key (so an unknown one is "The API key is not recognised.").
 * Both kinds share `cache` (see `AuthenticationCache`) when one is given, and are held to a DPoP
 * binding (`authenticateWithPossession`, proofs remembered in `replay`).
 */
export function bearerAuthenticator(
  database: Database,
  issuers: readonly OidcIssuer[],
  log: (message: string, error?: unknown) => void,
  cache?: AuthenticationCache,
  replay: DpopReplayCache = new DpopReplayCache(database),
): AuthenticateBearer {
  const tokens =
    issuers.length === 0 ? null : new TokenAuthenticator(database, issuers, log, cache);
  return (credential, prefetch, request, possession = BEARER) =>
    authenticateWithPossession(credential, possession, replay, () =>
      tokens !== null && looksLikeJwt(credential)
        ? tokens.authenticate(credential, prefetch, request)
        : authenticate(database, credential, prefetch, cache),
    );
}

import type { Database } from '../../db/client.js';
import { authenticate } from '../keys/authenticate.js';
import type { Authentication, Prefetch, RequestMeta } from '../keys/authentication.js';
import type { AuthenticationCache } from '../keys/authentication-cache.js';
import type { OidcIssuer } from './oidc-issuers.js';
import { TokenAuthenticator } from './token-authenticator.js';
import { looksLikeJwt } from './token-verifier.js';

/** Authenticates the credential of `Authorization: Bearer <credential>`, API key or token. */
export type AuthenticateBearer = (
  credential: string,
  prefetch?: Prefetch,
  request?: RequestMeta,
) => Promise<Authentication>;

/**
 * Tells the two kinds of bearer credential apart by shape: with issuers configured, a JWT (three
 * base64url segments) is an identity-provider token; anything else, and every credential when no
 * issuer is configured, is an API key (so an unknown one is "The API key is not recognised.").
 * Both kinds share `cache` (see `AuthenticationCache`) when one is given.
 */
export function bearerAuthenticator(
  database: Database,
  issuers: readonly OidcIssuer[],
  log: (message: string, error?: unknown) => void,
  cache?: AuthenticationCache,
): AuthenticateBearer {
  if (issuers.length === 0) {
    return (credential, prefetch) => authenticate(database, credential, prefetch, cache);
  }
  const tokens = new TokenAuthenticator(database, issuers, log, cache);
  return (credential, prefetch, request) =>
    looksLikeJwt(credential)
      ? tokens.authenticate(credential, prefetch, request)
      : authenticate(database, credential, prefetch, cache);
}

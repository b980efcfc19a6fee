/**
 * Signing in with an identity provider: OAuth 2.0 authorization code with PKCE (RFC 7636), the
 * console being a public client. The verifier and state live in sessionStorage between leaving
 * for the provider and coming back; the token the provider returns is the bearer, kept like a key.
 */

/** A provider the server offers (`OIDC_ISSUERS` entries with `console`). */
export interface SignInProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly scope: string;
  readonly token: 'access_token' | 'id_token';
}

interface Pending {
  readonly provider: SignInProvider;
  readonly verifier: string;
  readonly state: string;
  readonly redirectUri: string;
  readonly returnTo: string;
}

const PENDING = 'keyholder.oidc';

/** The providers index.html lists (the server writes them), or none. */
export function signInProviders(doc: Document): SignInProvider[] {
  const content = doc.querySelector('meta[name="keyholder-oidc"]')?.getAttribute('content');
  try {
    const parsed = JSON.parse(content ?? '[]') as unknown;
    return Array.isArray(parsed) ? (parsed as SignInProvider[]) : [];
  } catch {
    return [];
  }
}

/** base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** A random verifier (32 bytes, 43 characters) and its S256 challenge. */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  return { verifier, challenge: await challengeOf(verifier) };
}

/** `BASE64URL(SHA-256(verifier))`. */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The provider's authorization URL; remembers what finishing needs in `storage`. */
export async function beginSignIn(
  provider: SignInProvider,
  origin: string,
  returnTo: string,
  storage: Storage,
): Promise<string> {
  const { verifier, challenge } = await pkcePair();
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const redirectUri = `${origin}/console/`;
  const pending: Pending = { provider, verifier, state, redirectUri, returnTo };
  storage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(provider.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: provider.clientId,
    redirect_uri: redirectUri,
    scope: provider.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/** What coming back from the provider gave: a bearer token, or why not. */
export type SignInResult =
  | { readonly token: string; readonly returnTo: string }
  | { readonly error: string };

/**
 * When `search` is the provider's answer (`code` and `state`, or `error`), exchanges the code for
 * the token; null when the address is not an answer to a sign-in this tab began.
 */
export async function finishSignIn(
  search: string,
  storage: Storage,
  post: typeof fetch,
): Promise<SignInResult | null> {
  const params = new URLSearchParams(search);
  const raw = storage.getItem(PENDING);
  if (raw === null || (!params.has('code') && !params.has('error'))) return null;
  storage.removeItem(PENDING);
  const pending = JSON.parse(raw) as Pending;
  if (params.get('state') !== pending.state) {
    return { error: 'The identity provider answered a sign-in this tab did not start (state).' };
  }
  if (params.has('error')) {
    return {
      error: `The identity provider refused: ${params.get('error_description') ?? params.get('error')}.`,
    };
  }
  let response: Response;
  try {
    response = await post(pending.provider.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code') ?? '',
        redirect_uri: pending.redirectUri,
        client_id: pending.provider.clientId,
        code_verifier: pending.verifier,
      }),
    });
  } catch (error) {
    return { error: `The identity provider's token endpoint did not answer: ${error}.` };
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const token = body[pending.provider.token];
  if (!response.ok || typeof token !== 'string') {
    return {
      error: `The identity provider gave no ${pending.provider.token} (${response.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}).`,
    };
  }
  return { token, returnTo: pending.returnTo };
}

/** How the sign-in button names a provider: its issuer's host, or the issuer as written. */
export function providerName(issuer: string): string {
  try {
    return new URL(issuer).host || issuer;
  } catch {
    return issuer;
  }
}

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64url, beginSignIn, challengeOf, finishSignIn, providerName } from './oidc';

/** sessionStorage's interface over a Map (the specs run in Node). */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, value),
  };
}

const provider = {
  issuer: 'https://login.example.com/',
  clientId: 'console',
  authorizationEndpoint: 'https://login.example.com/authorize',
  tokenEndpoint: 'https://login.example.com/token',
  scope: 'openid',
  token: 'access_token' as const,
};

describe('PKCE', () => {
  it('encodes base64url without padding', () => {
    expect(base64url(new Uint8Array([251, 255, 0]))).toBe('-_8A');
    expect(base64url(new Uint8Array([1]))).toBe('AQ');
  });

  it('derives the S256 challenge of a verifier', async () => {
    const verifier = 'dBjftJeZ4CVP-mJ92bbH1_b1ChnnvaYaGRHWd6FX9dQ';
    expect(await challengeOf(verifier)).toBe(
      createHash('sha256').update(verifier).digest('base64url'),
    );
  });
});

describe('signing in with a provider', () => {
  it('sends the browser to the provider with an S256 challenge, and exchanges the code on return', async () => {
    const storage = memoryStorage();
    const url = new URL(
      await beginSignIn(provider, 'https://kh.example', '/console/audit', storage),
    );
    expect(url.origin + url.pathname).toBe(provider.authorizationEndpoint);
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('console');
    expect(q.get('redirect_uri')).toBe('https://kh.example/console/');
    expect(q.get('code_challenge_method')).toBe('S256');

    let sent: URLSearchParams | undefined;
    const post = (async (_url: string, init: RequestInit) => {
      sent = init.body as URLSearchParams;
      return new Response(JSON.stringify({ access_token: 'a.b.c' }), { status: 200 });
    }) as typeof fetch;
    const answer = await finishSignIn(`?code=c1&state=${q.get('state')}`, storage, post);
    expect(answer).toEqual({ token: 'a.b.c', returnTo: '/console/audit' });
    expect(await challengeOf(sent?.get('code_verifier') ?? '')).toBe(q.get('code_challenge'));
    expect(sent?.get('code')).toBe('c1');
    expect(storage.length).toBe(0);
  });

  it('refuses a forged state, and reads an address that is no answer as nothing', async () => {
    const storage = memoryStorage();
    const never = (async () => {
      throw new Error('must not be called');
    }) as typeof fetch;
    expect(await finishSignIn('?code=c1&state=x', storage, never)).toBeNull();
    await beginSignIn(provider, 'https://kh.example', '/console', storage);
    expect(await finishSignIn('?page=2', storage, never)).toBeNull();
    expect(await finishSignIn('?code=c1&state=forged', storage, never)).toEqual({
      error: 'The identity provider answered a sign-in this tab did not start (state).',
    });
  });

  it('names a provider by its issuer host', () => {
    expect(providerName('https://login.example.com/tenant')).toBe('login.example.com');
    expect(providerName('not a url')).toBe('not a url');
  });
});

import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_THROUGH } from '../../src/db/client.js';
import { authenticate } from '../../src/modules/keys/authenticate.js';
import {
  AuthenticationCache,
  type AuthenticationCacheStats,
} from '../../src/modules/keys/authentication-cache.js';
import { parseOidcIssuers } from '../../src/modules/tokens/oidc-issuers.js';
import { engines } from '../fixtures/engines.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import { type SigningKey, signingKey, signToken } from '../fixtures/identity-provider.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  sleep,
  unique,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

const LIST_IDENTITIES = '{ identities(first: 1) { nodes { id } } }';
const CHECK = `query($id: ID!, $scope: String!) {
  check(identityId: $id, scope: $scope) { allowed }
}`;
const ISSUER = 'https://sso.cache.test';

/** The authentication cache as detailed `/healthz` shows it (private listener: no authentication). */
async function cacheStats(server: TestServer): Promise<AuthenticationCacheStats> {
  const body = (await (await fetch(`${server.metricsUrl}/healthz`)).json()) as {
    authenticationCache: AuthenticationCacheStats;
  };
  return body.authenticationCache;
}

/**
 * Sends one request and says how it was authenticated: `hit` (answered from the cache), `miss`
 * (the authentication statement ran) or `neither` (refused before either, e.g. a bad token). Only
 * the request's own authentication moves the counters: nothing else authenticates in between.
 */
async function served<T>(
  server: TestServer,
  send: () => Promise<GqlResponse<T>>,
): Promise<{ response: GqlResponse<T>; via: 'hit' | 'miss' | 'neither' }> {
  const before = await cacheStats(server);
  const response = await send();
  const after = await cacheStats(server);
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  expect(hits + misses, 'one authentication per request').toBeLessThanOrEqual(1);
  return { response, via: hits === 1 ? 'hit' : misses === 1 ? 'miss' : 'neither' };
}

describe.each(engines())('the authentication cache on %s', (engine) => {
  let server: TestServer;
  let tokenKey: SigningKey;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);
  const as = (key: string, query: string, variables?: Record<string, unknown>) => () =>
    gql(server.url, key, query, variables);

  beforeAll(async () => {
    tokenKey = await signingKey('cache-1', 'ES256');
    server = await startTestServer(engine, {
      // A grant's expiry writes a grant.expired event (a new revision) when the sweeper sees it;
      // off, an expiry changes nothing in the database, so the specs below show that a cached
      // authentication drops the grant by itself.
      expirySweeper: false,
      oidcIssuers: parseOidcIssuers(
        JSON.stringify([
          {
            issuer: ISSUER,
            audience: 'keyholder',
            keys: [tokenKey.publicJwk],
            algorithms: ['ES256'],
          },
        ]),
      ),
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should answer a repeated request from the cache without a statement', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    const first = await served(server, as(holder.key, LIST_IDENTITIES));
    const counts: number[] = [];
    const vias: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const before = server.database.statements.count;
      const again = await served(server, as(holder.key, '{ me { id } }'));
      counts.push(server.database.statements.count - before);
      vias.push(again.via);
      dataOf(again.response);
    }

    dataOf(first.response);
    expect(first.via).toBe('miss');
    expect(vias).toEqual(['hit', 'hit', 'hit']);
    // The least of three, so a background flush of key or grant usage (or a lease renewal)
    // cannot count. The revision feed says what changed; nothing is read per request.
    expect(Math.min(...counts)).toBe(0);
    expect(await cacheStats(server)).toMatchObject({ maxEntries: 1000 });
  });

  it("should deny a grant revoked after the caller's previous request was served from the cache", async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    await served(server, as(holder.key, LIST_IDENTITIES));
    const cached = await served(server, as(holder.key, LIST_IDENTITIES));

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Moved on.") { id } }', {
        id: holder.grants[0]?.id,
      }),
    );
    const after = await served(server, as(holder.key, LIST_IDENTITIES));

    expect(cached.via).toBe('hit');
    dataOf(cached.response);
    expect(after.via).toBe('miss');
    expectError(
      after.response,
      'FORBIDDEN',
      'Access to "Query.identities" requires scope "identities:read".',
    );
  });

  it("should refuse a key revoked after the caller's previous request was served from the cache", async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    await served(server, as(holder.key, '{ me { id } }'));
    const cached = await served(server, as(holder.key, '{ me { id } }'));

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: holder.keyId }),
    );
    const after = await served(server, as(holder.key, '{ me { id } }'));

    expect(cached.via).toBe('hit');
    expect(after.via).toBe('miss');
    expectUnauthenticated(after.response, 'has been revoked');
  });

  it("should refuse an identity disabled after the caller's previous request was served from the cache", async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    await served(server, as(holder.key, '{ me { id } }'));
    const cached = await served(server, as(holder.key, '{ me { id } }'));

    dataOf(
      await asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: holder.id }),
    );
    const after = await served(server, as(holder.key, '{ me { id } }'));

    expect(cached.via).toBe('hit');
    expect(after.via).toBe('miss');
    expectUnauthenticated(after.response, 'is disabled');
  });

  it('should deny a check about another identity whose grant was revoked after the check was cached', async () => {
    const scope = await defineScope(server);
    const target = await identityWithGrants(server, [scope]);
    const asker = await identityWithGrants(server, ['grants:read']);
    const variables = { id: target.id, scope };
    await served(server, as(asker.key, CHECK, variables));
    const cached = await served(server, as(asker.key, CHECK, variables));

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }', {
        id: target.grants[0]?.id,
      }),
    );
    const after = await served(server, as(asker.key, CHECK, variables));

    expect(cached.via).toBe('hit');
    expect(dataOf(cached.response).check.allowed).toBe(true);
    expect(after.via).toBe('miss');
    expect(dataOf(after.response).check.allowed).toBe(false);
  });

  it('should refuse a key that expires while its authentication is cached, naming its prefix', async () => {
    const identity = await createIdentity(server);
    const key = await createKey(server, identity.id, { ttlSeconds: 1 });
    await served(server, as(key.secret, '{ me { id } }'));
    const cached = await served(server, as(key.secret, '{ me { id } }'));

    // Only waiting past the expiry, never timing anything.
    await sleep(Math.max(0, Date.parse(key.expiresAt ?? '') - Date.now()) + 150);
    const after = await served(server, as(key.secret, '{ me { id } }'));

    expect(cached.via).toBe('hit');
    expect(dataOf(cached.response).me.id).toBe(identity.id);
    // Nothing changed in the database: the entry is current, and its key's expiry is checked now.
    expect(after.via).toBe('hit');
    expectUnauthenticated(after.response, `API key ${key.prefix} has expired.`);
  });

  it('should stop a grant that expires while its authentication is cached from authorizing', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, ['grants:read']);
    const temporary = await grant(server, holder.id, { scope: 'identities:read', ttlSeconds: 1 });
    const scoped = await grant(server, holder.id, { scope, ttlSeconds: 1 });
    const variables = { id: holder.id, scope };
    for (let i = 0; i < 2; i += 1) {
      dataOf(await gql(server.url, holder.key, CHECK, variables));
      dataOf(await gql(server.url, holder.key, LIST_IDENTITIES));
    }
    const lastExpiry = Math.max(
      Date.parse(temporary.expiresAt ?? ''),
      Date.parse(scoped.expiresAt ?? ''),
    );

    await sleep(Math.max(0, lastExpiry - Date.now()) + 150);
    const decision = await served(server, as(holder.key, CHECK, variables));
    const listing = await served(server, as(holder.key, LIST_IDENTITIES));

    // Nothing changed in the database (no sweeper): both entries are current, their grants not.
    expect([decision.via, listing.via]).toEqual(['hit', 'hit']);
    expect(dataOf(decision.response).check.allowed).toBe(false);
    expectError(listing.response, 'FORBIDDEN', 'requires scope "identities:read"');
  });

  it("should leave grants that expired while cached out of every list a hit hands out, with a RevisionRecord and identity rows of the hit's own", async () => {
    const holder = await identityWithGrants(server, ['grants:read']);
    const temporary = await grant(server, holder.id, { scope: 'identities:read', ttlSeconds: 1 });
    const target = await identityWithGrants(server, [{ scope: 'scopes:read', ttlSeconds: 1 }]);
    const cache = new AuthenticationCache(server.database, 10);
    const prefetch = { identityIds: [target.id], scopes: [] };
    const first = await authenticate(server.database, holder.key, prefetch, cache);
    const ids = (grants: readonly { id: string }[] | undefined) => grants?.map((g) => g.id);

    // Until both temporary grants have expired (the target's was made after the holder's).
    const lastExpiry = Math.max(
      Date.parse(temporary.expiresAt ?? ''),
      Date.parse(target.grants[0]?.expiresAt ?? ''),
    );
    await sleep(Math.max(0, lastExpiry - Date.now()) + 150);
    const hit = await authenticate(server.database, holder.key, prefetch, cache);

    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    expect(ids(first.caller.grants)).toEqual(
      expect.arrayContaining([holder.grants[0]?.id, temporary.id]),
    );
    expect(ids(first.grantsByIdentity.get(target.id))).toEqual([target.grants[0]?.id]);
    expect(ids(hit.caller.grants)).toEqual([holder.grants[0]?.id]);
    expect(ids(hit.grantsByIdentity.get(holder.id))).toEqual([holder.grants[0]?.id]);
    expect(ids(hit.grantsByIdentity.get(target.id))).toEqual([]);
    expect(hit.caller.revisions).not.toBe(first.caller.revisions);
    expect(hit.caller.revisions?.seen).toBe(first.revision);
    expect(hit.caller.identity).not.toBe(first.caller.identity);
    expect(hit.caller.identity).toEqual(first.caller.identity);
    expect(hit.identities.get(holder.id)).toBe(hit.caller.identity);
  });

  it('should share one revision_head read among requests that ask while a read is in flight, when it reads through', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    const database = { ...server.database, revisionSource: READ_THROUGH };
    const cache = new AuthenticationCache(database, 10);
    const prefetch = { identityIds: [], scopes: [] };
    await authenticate(database, holder.key, prefetch, cache);
    const counts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const before = server.database.statements.count;
      // The first sends a read; the other nineteen ask while it is in flight and share the next.
      const all = await Promise.all(
        Array.from({ length: 20 }, () => authenticate(database, holder.key, prefetch, cache)),
      );
      counts.push(server.database.statements.count - before);
      expect(all.map((a) => a.caller.identity.id)).toEqual(Array(20).fill(holder.id));
    }

    expect(cache.stats()).toMatchObject({ hits: 60, misses: 1 });
    // The least of three, so a background flush of key or grant usage cannot count.
    expect(Math.min(...counts)).toBe(2);
  });

  it('should not answer a request from a revision_head read sent before the request asked, when it reads through', async () => {
    const holder = await identityWithGrants(server, ['identities:read', 'scopes:read']);
    const revoked = holder.grants[0]?.id;
    // The real database, with the answer of one revision_head read held back until released:
    // a read that PostgreSQL ran before the revocation and that is still in flight after it.
    let release = () => {};
    let holdNext = false;
    const slow = {
      ...server.database,
      revisionSource: READ_THROUGH,
      async queryArrays<T extends readonly unknown[]>(text: string, params?: readonly unknown[]) {
        const hold = holdNext && text.includes('revision_head');
        holdNext = false;
        const rows = await server.database.queryArrays<T>(text, params);
        if (hold) await new Promise<void>((resolve) => (release = resolve));
        return rows;
      },
    };
    const cache = new AuthenticationCache(slow, 10);
    const prefetch = { identityIds: [], scopes: [] };
    const grantIds = (a: { caller: { grants: readonly { id: string }[] } }) =>
      a.caller.grants.map((g) => g.id);
    await authenticate(slow, holder.key, prefetch, cache);

    holdNext = true;
    const before = authenticate(slow, holder.key, prefetch, cache);
    await sleep(50); // PostgreSQL has answered the held read by now; its answer waits here.
    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Moved on.") { id } }', {
        id: revoked,
      }),
    );
    const after = authenticate(slow, holder.key, prefetch, cache);
    release();

    expect(grantIds(await before)).toContain(revoked);
    expect(grantIds(await after)).not.toContain(revoked);
    expect(grantIds(await after)).toEqual([holder.grants[1]?.id]);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2 });
  });

  it('should send one authentication statement for concurrent misses of the same key', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    const prefetch = { identityIds: [], scopes: [] };
    const alone: number[] = [];
    const together: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      let before = server.database.statements.count;
      await authenticate(
        server.database,
        holder.key,
        prefetch,
        new AuthenticationCache(server.database, 10),
      );
      alone.push(server.database.statements.count - before);

      const cache = new AuthenticationCache(server.database, 10);
      before = server.database.statements.count;
      const all = await Promise.all(
        Array.from({ length: 20 }, () =>
          authenticate(server.database, holder.key, prefetch, cache),
        ),
      );
      together.push(server.database.statements.count - before);
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 1, shared: 19, entries: 1 });
      expect(all.map((a) => a.caller.identity.id)).toEqual(Array(20).fill(holder.id));
      // Each joiner has objects of its own where a request records or tags anything.
      expect(new Set(all.map((a) => a.caller.revisions)).size).toBe(20);
      expect(new Set(all.map((a) => a.caller.identity)).size).toBe(20);
    }

    // The least of three, so a background flush of key or grant usage cannot count.
    expect(Math.min(...together)).toBe(Math.min(...alone));
  });

  it('should not let a request join an authentication statement sent before a revocation it must see', async () => {
    const holder = await identityWithGrants(server, ['identities:read', 'scopes:read']);
    const revoked = holder.grants[0]?.id;
    // The real database, with the answer of the next statement held back until released: an
    // authentication statement PostgreSQL ran before the revocation, still in flight after it.
    let answered = () => {};
    const reached = new Promise<void>((resolve) => (answered = resolve));
    let release = () => {};
    let holdNext = false;
    const slow = {
      ...server.database,
      async queryArrays<T extends readonly unknown[]>(text: string, params?: readonly unknown[]) {
        const hold = holdNext;
        holdNext = false;
        const rows = await server.database.queryArrays<T>(text, params);
        if (hold) {
          answered();
          await new Promise<void>((resolve) => (release = resolve));
        }
        return rows;
      },
    };
    const cache = new AuthenticationCache(slow, 10);
    const prefetch = { identityIds: [], scopes: [] };
    const grantIds = (a: { caller: { grants: readonly { id: string }[] } }) =>
      a.caller.grants.map((g) => g.id);

    holdNext = true;
    const first = authenticate(slow, holder.key, prefetch, cache);
    await reached;
    // Asks before the revocation: nothing newer is known, so it joins the statement in flight.
    const joiner = authenticate(slow, holder.key, prefetch, cache);
    dataOf(
      await asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Moved on.") { id } }', {
        id: revoked,
      }),
    );
    // Starts after the revocation returned: the statement in flight predates it.
    const after = authenticate(slow, holder.key, prefetch, cache);
    release();

    expect(grantIds(await first)).toContain(revoked);
    expect(grantIds(await joiner)).toContain(revoked);
    expect(grantIds(await after)).toEqual([holder.grants[1]?.id]);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, shared: 1 });
  });

  it('should keep entries apart by what the request prefetched', async () => {
    const scope = await defineScope(server);
    const asker = await identityWithGrants(server, ['grants:read']);
    const holder = await identityWithGrants(server, [scope]);
    const other = await identityWithGrants(server, []);

    await served(server, as(asker.key, CHECK, { id: holder.id, scope }));
    const holderAgain = await served(server, as(asker.key, CHECK, { id: holder.id, scope }));
    const otherFirst = await served(server, as(asker.key, CHECK, { id: other.id, scope }));

    expect(holderAgain.via).toBe('hit');
    expect(dataOf(holderAgain.response).check.allowed).toBe(true);
    expect(otherFirst.via).toBe('miss');
    expect(dataOf(otherFirst.response).check.allowed).toBe(false);
  });

  it('should give a cached token caller the token it sent, not the one that filled the cache', async () => {
    const sub = unique('sub');
    const identity = await createIdentity(server, { kind: 'USER', externalId: `${ISSUER}|${sub}` });
    await grant(server, identity.id, { scope: 'identities:write' });
    await grant(server, identity.id, { scope: 'identities:read' });
    const now = Math.floor(Date.now() / 1000);
    const tokenFor = (claims: JWTPayload) =>
      signToken(tokenKey, { iss: ISSUER, aud: 'keyholder', sub, ...claims });
    const long = await tokenFor({ exp: now + 600 });
    const short = await tokenFor({ exp: now + 120 });
    const createKeyFor = (token: string) =>
      as(
        token,
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }',
        { input: { identityId: identity.id, name: unique('laptop'), ttlSeconds: 300 } },
      );

    const first = await served(server, as(long, '{ me { id } }'));
    const second = await served(server, createKeyFor(short));

    expect(first.via).toBe('miss');
    expect(second.via).toBe('hit');
    // A key for oneself cannot outlive the credential in use: the short token's exp, not the long one's.
    expectError(
      second.response,
      'BAD_USER_INPUT',
      `which expires at ${new Date((now + 120) * 1000).toISOString()}`,
    );
  });

  it('should not keep a refused credential: each request runs the statement again', async () => {
    const refused = await served(server, as('kh_00000000_not-a-key', '{ me { id } }'));

    expectUnauthenticated(refused.response, 'The API key is not recognised.');
    expect(refused.via).toBe('miss');
    const again = await served(server, as('kh_00000000_not-a-key', '{ me { id } }'));
    expect(again.via).toBe('miss');
  });
});

describe.each(engines())('the authentication cache switched off on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine, { authenticationCacheSize: 0 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should run the authentication statement for every request and still deny a revoked grant', async () => {
    const holder = await identityWithGrants(server, ['identities:read']);
    const before = await cacheStats(server);
    dataOf(await gql(server.url, holder.key, LIST_IDENTITIES));
    dataOf(await gql(server.url, holder.key, LIST_IDENTITIES));
    const between = await cacheStats(server);

    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }',
        { id: holder.grants[0]?.id },
      ),
    );
    const after = await gql(server.url, holder.key, LIST_IDENTITIES);

    expect(between).toEqual({
      maxEntries: 0,
      entries: 0,
      hits: 0,
      misses: before.misses + 2,
      carried: 0,
      shared: 0,
    });
    expectError(after, 'FORBIDDEN', 'requires scope "identities:read"');
  });
});

// Two instances need one database they both reach over the network: PGlite lives inside one
// process, so this spec runs on PostgreSQL only.
describe.each(engines())('the authentication cache across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances();
    ({ a, b } = instances);
  });

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    'should deny on one instance a grant revoked on the other after its cached request (PostgreSQL only: PGlite cannot be shared by two servers)',
    async () => {
      const holder = await identityWithGrants(a, ['identities:read']);
      await served(b, request(b, holder.key, LIST_IDENTITIES));
      const cached = await served(b, request(b, holder.key, LIST_IDENTITIES));

      dataOf(
        await gql(
          a.url,
          a.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Elsewhere.") { id } }',
          { id: holder.grants[0]?.id },
        ),
      );
      const after = await served(b, request(b, holder.key, LIST_IDENTITIES));

      expect(cached.via).toBe('hit');
      dataOf(cached.response);
      expect(after.via).toBe('miss');
      expectError(after.response, 'FORBIDDEN', 'requires scope "identities:read"');
    },
  );

  it.skipIf(!shared)(
    'should refuse on one instance a key revoked on the other after its cached request (PostgreSQL only: PGlite cannot be shared by two servers)',
    async () => {
      const holder = await identityWithGrants(a, []);
      await served(b, request(b, holder.key, '{ me { id } }'));
      const cached = await served(b, request(b, holder.key, '{ me { id } }'));

      dataOf(
        await gql(a.url, a.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', {
          id: holder.keyId,
        }),
      );
      const after = await served(b, request(b, holder.key, '{ me { id } }'));

      expect(cached.via).toBe('hit');
      expect(after.via).toBe('miss');
      expectUnauthenticated(after.response, 'has been revoked');
    },
  );
});

/** Sends `query` to `server` with `key`, when called. */
function request(server: TestServer, key: string, query: string) {
  return () => gql(server.url, key, query);
}

import { makeExecutableSchema } from '@graphql-tools/schema';
import { type ExecutionResult, parse, subscribe } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteGrants, requiresDirective } from '../../src/index.js';
import { engines } from '../fixtures/engines.js';
import { defineScope, identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { revokeGrant } from '../subscriptions/revoke.js';
import { Feed } from '../unit/directive/sample-schema.js';

interface Ctx {
  readonly apiKey: string;
}

/** Another graph: one subscription guarded by @requires, enforced against Keyholder's grants. */
function ticker(
  keyholder: TestServer,
  scope: string,
  remote: { maxAgeMs: number; recheckMs: number },
) {
  const feed = new Feed<number>();
  const grants = remoteGrants<Ctx>({
    url: `${keyholder.url}/graphql`,
    apiKey: (ctx) => ctx.apiKey,
    maxAgeMs: remote.maxAgeMs,
  });
  const { typeDefs, transformer } = requiresDirective<Ctx>({
    grants: grants.grants,
    principal: grants.principal,
    subscriptionRecheckMs: remote.recheckMs,
  });
  const schema = transformer(
    makeExecutableSchema({
      typeDefs: [
        typeDefs,
        `type Query { ok: Boolean } type Subscription { tick: Int @requires(scope: "${scope}") }`,
      ],
      resolvers: {
        Subscription: { tick: { subscribe: () => feed.events(), resolve: (n: number) => n } },
      },
    }),
  );
  const open = async (apiKey: string) => {
    const stream = await subscribe({
      schema,
      document: parse('subscription { tick }'),
      contextValue: { apiKey },
    });
    if (!(Symbol.asyncIterator in stream)) {
      throw new Error(`Subscribing was refused: ${JSON.stringify(stream.errors)}`);
    }
    return stream as AsyncGenerator<ExecutionResult>;
  };
  return { feed, open };
}

// Issue 20.4: a subscription in another graph guarded through remoteGrants ends with FORBIDDEN
// once its grant is revoked in Keyholder, as Keyholder's own subscriptions do.
describe.each(engines())('remote-guarded subscriptions on %s', (engine) => {
  let keyholder: TestServer;
  let scope: string;

  beforeAll(async () => {
    keyholder = await startTestServer(engine);
    scope = await defineScope(keyholder);
  });

  afterAll(async () => {
    await keyholder?.stop();
  });

  it('should deny the first event after a revocation when grants may not be reused', async () => {
    const { feed, open } = ticker(keyholder, scope, { maxAgeMs: 0, recheckMs: 0 });
    const subscriber = await identityWithGrants(keyholder, [scope]);
    const stream = await open(subscriber.key);
    feed.publish(1);
    expect(await stream.next()).toEqual({ done: false, value: { data: { tick: 1 } } });

    await revokeGrant(keyholder, subscriber.grants[0]?.id as string);
    feed.publish(2);

    const denied = await stream.next();
    expect(denied.done).toBe(false);
    expect(denied.value?.data).toEqual({ tick: null });
    expect(denied.value?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('should end a quiet stream too, on the re-check timer, with the default staleness', async () => {
    const { open } = ticker(keyholder, scope, { maxAgeMs: 1000, recheckMs: 200 });
    const subscriber = await identityWithGrants(keyholder, [scope]);
    const stream = await open(subscriber.key);

    await revokeGrant(keyholder, subscriber.grants[0]?.id as string);

    // No event is published: the directive's timer re-checks, and remoteGrants fetches again
    // once the grants it holds are older than maxAgeMs.
    const denied = await stream.next();
    expect(denied.value?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('should fetch at most once per maxAgeMs however many events arrive', async () => {
    let fetches = 0;
    const counted = remoteGrants<Ctx>({
      url: `${keyholder.url}/graphql`,
      apiKey: (ctx) => ctx.apiKey,
      maxAgeMs: 60_000,
      fetch: (input, init) => {
        fetches += 1;
        return fetch(input, init);
      },
    });
    const subscriber = await identityWithGrants(keyholder, [scope]);
    const context = { apiKey: subscriber.key };

    for (let i = 0; i < 20; i += 1) await counted.grants(context);

    expect(fetches).toBe(1);
  });
});

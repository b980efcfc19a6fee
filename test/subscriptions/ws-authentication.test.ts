import { CloseCode } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { createKey, identityWithGrants, sleep } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import {
  bearer,
  connectAs,
  executeWs,
  openWsClient,
  rawSocket,
  type WsClient,
  within,
} from '../fixtures/ws.js';
import { disableIdentity, revokeApiKey } from './revoke.js';

const FORBIDDEN = CloseCode.Forbidden; // 4403
const CONNECTION_INITIALISATION_TIMEOUT = CloseCode.ConnectionInitialisationTimeout; // 4408
/** RFC 6455: the message is too big to process. */
const MESSAGE_TOO_BIG = 1009;

describe.each(engines())('WebSocket authentication on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  /** Opens a client with this `connection_init` payload and waits for the server's verdict. */
  const verdict = async (connectionParams: Record<string, unknown> | undefined) => {
    const client = openWsClient(server.url, connectionParams);
    open.push(client);
    return within(
      Promise.race([
        client.closed,
        client.acknowledged.then(() => ({ code: 0, reason: 'acknowledged' })),
      ]),
      5000,
      'the verdict on connection_init',
    );
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should acknowledge connection_init carrying a valid key', async () => {
    const nobody = await identityWithGrants(server);

    expect(await verdict(bearer(nobody.key))).toEqual({ code: 0, reason: 'acknowledged' });
  });

  it('should close the socket with 4403 when connection_init has no payload', async () => {
    expect((await verdict(undefined)).code).toBe(FORBIDDEN);
  });

  it.each([
    ['a Basic scheme', { authorization: 'Basic a2V5aG9sZGVyOnNlY3JldA==' }],
    ['"Bearer" with no key', { authorization: 'Bearer' }],
    ['two words after "Bearer"', { authorization: 'Bearer one two' }],
    ['a number', { authorization: 42 }],
    ['the header under another name', { Authorisation: 'Bearer kh_whatever' }],
  ])('should close the socket with 4403 when the authorization is %s', async (_, params) => {
    expect((await verdict(params)).code).toBe(FORBIDDEN);
  });

  it('should close the socket with 4403 when the key is unknown', async () => {
    expect((await verdict(bearer('kh_this_key_was_never_issued_by_this_server_000'))).code).toBe(
      FORBIDDEN,
    );
  });

  it('should close the socket with 4403 when the key is revoked', async () => {
    const holder = await identityWithGrants(server);
    await revokeApiKey(server, holder.keyId);

    expect((await verdict(bearer(holder.key))).code).toBe(FORBIDDEN);
  });

  it('should close the socket with 4403 when the key has expired', async () => {
    const holder = await identityWithGrants(server);
    const key = await createKey(server, holder.id, { ttlSeconds: 1 });
    await sleep(1100);

    expect((await verdict(bearer(key.secret))).code).toBe(FORBIDDEN);
  });

  it("should close the socket with 4403 when the key's identity is disabled", async () => {
    const holder = await identityWithGrants(server);
    await disableIdentity(server, holder.id);

    expect((await verdict(bearer(holder.key))).code).toBe(FORBIDDEN);
  });

  it('should refuse operations with UNAUTHENTICATED once the socket key is revoked', async () => {
    const holder = await identityWithGrants(server);
    const connected = await connectAs(server.url, holder.key);
    open.push(connected);
    await revokeApiKey(server, holder.keyId);

    const { results, ending } = await executeWs(connected.client, '{ me { id } }');

    expect(results).toEqual([]);
    expect(ending.kind).toBe('error');
    const errors = (ending as { error: { extensions?: { code?: string } }[] }).error;
    expect(errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  it('should close the socket with 4408 when no connection_init comes within 3 seconds', async () => {
    const { closed } = rawSocket(server.url);

    expect((await within(closed, 6000, 'the close of a silent socket')).code).toBe(
      CONNECTION_INITIALISATION_TIMEOUT,
    );
  });

  it('should close the socket with 1009 when a message is larger than 64 KiB', async () => {
    const connected = await connectAs(server.url, server.adminKey);
    open.push(connected);
    const padding = `# ${'x'.repeat(65 * 1024)}\n`;

    const { ending } = await executeWs(connected.client, `${padding}{ me { id } }`);

    expect(ending.kind).toBe('error');
    expect((await within(connected.closed, 5000, 'the close')).code).toBe(MESSAGE_TOO_BIG);
  });

  it('should keep the socket open for a message just under 64 KiB', async () => {
    const connected = await connectAs(server.url, server.adminKey);
    open.push(connected);
    const padding = `# ${'x'.repeat(60 * 1024)}\n`;

    const { results, ending } = await executeWs(connected.client, `${padding}{ me { id } }`);

    expect(ending).toEqual({ kind: 'complete' });
    expect(results).toEqual([{ data: { me: { id: server.adminId } } }]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { engines } from '../fixtures/engines.js';
import { createIdentity, identityWithGrants, sleep } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { bearer, connectAs, rawSocket, within } from '../fixtures/ws.js';
import { AUDIT_SUBSCRIPTION, markerIdentity, subscribeToAudit } from './audit-subscriber.js';

/** A graphql-transport-ws message as it travels. */
interface WireMessage {
  readonly type: string;
  readonly id?: string;
  // biome-ignore lint/suspicious/noExplicitAny: payloads are read loosely in specs
  readonly payload?: any;
}

/** A raw socket speaking graphql-transport-ws by hand, keeping every message it receives. */
async function openHandSocket(url: string, key: string) {
  const { socket, closed } = rawSocket(url);
  const received: WireMessage[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data: WebSocket.RawData) => {
    received.push(JSON.parse(data.toString()) as WireMessage);
    for (const listener of [...listeners]) listener();
  });
  const send = (message: WireMessage) => socket.send(JSON.stringify(message));
  const waitFor = (predicate: (m: WireMessage) => boolean, ms: number, what: string) => {
    let listener: () => void = () => {};
    return within(
      new Promise<WireMessage>((resolve) => {
        listener = () => {
          const found = received.find(predicate);
          if (found !== undefined) resolve(found);
        };
        listeners.add(listener);
        listener();
      }),
      ms,
      what,
    ).finally(() => listeners.delete(listener));
  };
  await within(new Promise((resolve) => socket.once('open', resolve)), 5000, 'the socket opening');
  send({ type: 'connection_init', payload: bearer(key) });
  await waitFor((m) => m.type === 'connection_ack', 5000, 'connection_ack');
  return { socket, closed, received, send, waitFor };
}

type HandSocket = Awaited<ReturnType<typeof openHandSocket>>;

const aboutSubject = (id: string, subjectId: string) => (m: WireMessage) =>
  m.type === 'next' && m.id === id && m.payload?.data?.auditEvents?.subjectId === subjectId;

describe.each(engines())('ending an audit subscription from the client on %s', (engine) => {
  let server: TestServer;
  const sockets: HandSocket[] = [];

  /** Creates identities until every subscription `ids` on `hand` has received the latest one. */
  const prime = async (hand: HandSocket, ids: readonly string[]) => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const marker = await markerIdentity(server);
      const received = await Promise.all(
        ids.map((id) =>
          hand.waitFor(aboutSubject(id, marker), 500, `the marker on ${id}`).then(
            () => true,
            () => false,
          ),
        ),
      );
      if (received.every(Boolean)) return;
    }
    throw new Error('The subscriptions never received a marker event.');
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterEach(() => {
    for (const hand of sockets.splice(0)) hand.socket.close(1000);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should stop re-checking access for a subscription once its socket closed', async () => {
    const auditor = await identityWithGrants(server, ['audit:read']);
    const connected = await connectAs(server.url, auditor.key);
    // A filter nothing matches: only the periodic re-check (every 500 ms) touches the database.
    subscribeToAudit(connected.client, { subjectId: 'no-such-subject' });
    await sleep(600);
    await connected.dispose();
    await within(connected.closed, 5000, 'the close');
    await sleep(300);

    const before = server.database.statements.count;
    await sleep(1500);
    const statements = server.database.statements.count - before;

    // A re-check left running would query three times in this wait; one statement may be the
    // periodic write of API key last-use times that the setup's HTTP requests queued, one the
    // renewal of the instance's lease (every 2.5 s in tests).
    expect(statements).toBeLessThanOrEqual(2);
  });

  it('should send nothing more for a subscription once the client completed it', async () => {
    const auditor = await identityWithGrants(server, ['audit:read']);
    const hand = await openHandSocket(server.url, auditor.key);
    sockets.push(hand);
    const payload = { query: AUDIT_SUBSCRIPTION, variables: { filter: { action: 'identity.' } } };
    hand.send({ id: 'ended', type: 'subscribe', payload });
    hand.send({ id: 'kept', type: 'subscribe', payload });
    await prime(hand, ['ended', 'kept']);

    hand.send({ id: 'ended', type: 'complete' });
    const completedAt = hand.received.length;
    const first = await createIdentity(server);
    await hand.waitFor(aboutSubject('kept', first.id), 5000, 'the first event on "kept"');
    const second = await createIdentity(server);
    await hand.waitFor(aboutSubject('kept', second.id), 5000, 'the second event on "kept"');

    // graphql-transport-ws: once the client sent complete, nothing more is sent for that id.
    expect(hand.received.slice(completedAt).filter((m) => m.id === 'ended')).toEqual([]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { createIdentity, createKey, defineScope, identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, type WsClient } from '../fixtures/ws.js';
import {
  type AuditRecorder,
  eventsOf,
  markerIdentity,
  primeSubscriptions,
  subscribeToAudit,
  waitForSubject,
} from './audit-subscriber.js';
import { disableIdentity } from './revoke.js';

const SUBSCRIBERS = 20;

describe.each(engines())('many audit subscribers on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it(`should deliver every matching event exactly once, in order, to each of ${SUBSCRIBERS} subscribers`, async () => {
    const auditors = await Promise.all(
      Array.from({ length: 4 }, () => identityWithGrants(server, ['audit:read'])),
    );
    const clients = await Promise.all(
      Array.from({ length: SUBSCRIBERS }, (_, i) =>
        connectAs(server.url, auditors[i % auditors.length]?.key as string),
      ),
    );
    open.push(...clients);
    // Half follow every identity.* action, half only identity.created.
    const recorders: AuditRecorder[] = clients.map((c, i) =>
      subscribeToAudit(c.client, { action: i % 2 === 0 ? 'identity.' : 'identity.created' }),
    );
    await primeSubscriptions(recorders, () => markerIdentity(server));

    const created: [string, string][] = [];
    const everyIdentityAction: [string, string][] = [];
    for (let i = 0; i < 6; i++) {
      const identity = await createIdentity(server);
      created.push(['identity.created', identity.id]);
      everyIdentityAction.push(['identity.created', identity.id]);
      if (i % 2 === 0) {
        await createKey(server, identity.id);
        await defineScope(server);
        await disableIdentity(server, identity.id);
        everyIdentityAction.push(['identity.disabled', identity.id]);
      }
    }
    const last = await createIdentity(server);
    created.push(['identity.created', last.id]);
    everyIdentityAction.push(['identity.created', last.id]);
    // Events arrive in chain order: once the last one is in, any duplicate would be too.
    await Promise.all(recorders.map((r) => waitForSubject(r, last.id)));

    recorders.forEach((recorder, i) => {
      const events = eventsOf(recorder.sinceMark());
      expect(
        events.map((e) => [e.action, e.subjectId]),
        `subscriber ${i}`,
      ).toEqual(i % 2 === 0 ? everyIdentityAction : created);
      expect(recorder.results.every((r) => r.errors === undefined)).toBe(true);
      expect(recorder.ending, `subscriber ${i}`).toBeUndefined();
    });
    for (const recorder of recorders) {
      const seqs = eventsOf(recorder.sinceMark()).map((e) => Number(e.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it(`should re-check ${SUBSCRIBERS} subscribers sharing one key with at most one authentication statement per event`, async () => {
    const auditor = await identityWithGrants(server, ['audit:read']);
    const clients = await Promise.all(
      Array.from({ length: SUBSCRIBERS }, () => connectAs(server.url, auditor.key)),
    );
    open.push(...clients);
    const recorders = clients.map((c) =>
      subscribeToAudit(c.client, { action: 'identity.created' }),
    );
    await primeSubscriptions(recorders, () => markerIdentity(server));
    const cache = async () =>
      (
        (await (await fetch(`${server.metricsUrl}/healthz`)).json()) as {
          authenticationCache: { hits: number; misses: number; shared: number };
        }
      ).authenticationCache;

    const before = await cache();
    const identity = await createIdentity(server);
    await Promise.all(recorders.map((r) => waitForSubject(r, identity.id)));
    const after = await cache();

    // The admin's createIdentity request is one authentication; the subscribers' re-checks are
    // the other SUBSCRIBERS, of which at most one runs the statement (the event's change is newer
    // than every cached authentication).
    expect(after.hits + after.misses + after.shared).toBe(
      before.hits + before.misses + before.shared + SUBSCRIBERS + 1,
    );
    expect(after.misses - before.misses).toBeLessThanOrEqual(2);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { createIdentity, identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import type { TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';
import { connectAs, type WsClient, within } from '../fixtures/ws.js';
import {
  type AuditRecorder,
  eventsOf,
  expectEndedForbidden,
  markerIdentity,
  primeSubscriptions,
  subscribeToAudit,
  waitForSubject,
} from './audit-subscriber.js';
import { revokeApiKey, revokeGrant } from './revoke.js';

/** DESIGN: a lost grant ends the subscription within one second; allow two. */
const REVOCATION_BOUND_MS = 2000;

// Two instances need one database they both reach over the network: PGlite lives inside one
// process, so these specs run on PostgreSQL only.
const SKIP_REASON = '(PostgreSQL only: PGlite cannot be shared by two servers)';

describe.each(engines())('audit subscriptions across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  const open: WsClient[] = [];

  /** A primed subscription of `subscriber` on `server`, its markers made through `markers`. */
  const liveSubscription = async (
    server: TestServer,
    subscriber: SeededPrincipal | { key: string },
    filter: Record<string, unknown> | undefined,
    markers: TestServer,
  ): Promise<AuditRecorder> => {
    const client = await connectAs(server.url, subscriber.key);
    open.push(client);
    const recorder = subscribeToAudit(client.client, filter);
    await primeSubscriptions([recorder], () => markerIdentity(markers));
    return recorder;
  };

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances();
    ({ a, b } = instances);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    `should deliver a change made through one instance to a subscriber on another ${SKIP_REASON}`,
    async () => {
      const onB = await liveSubscription(b, { key: b.adminKey }, undefined, a);

      const identity = await createIdentity(a);
      await waitForSubject(onB, identity.id);

      expect(eventsOf(onB.sinceMark()).map((e) => [e.action, e.subjectId, e.actorId])).toEqual([
        ['identity.created', identity.id, a.adminId],
      ]);
    },
  );

  it.skipIf(!shared)(
    `should deliver the changes of both instances to each, in seq order ${SKIP_REASON}`,
    async () => {
      const filter = { action: 'identity.created' };
      const clients = await Promise.all([
        connectAs(a.url, a.adminKey),
        connectAs(b.url, b.adminKey),
      ]);
      open.push(...clients);
      const [onA, onB] = clients.map((c) => subscribeToAudit(c.client, filter)) as [
        AuditRecorder,
        AuditRecorder,
      ];
      await primeSubscriptions([onA, onB], () => markerIdentity(a));

      const created: string[] = [];
      for (let i = 0; i < 6; i++) created.push((await createIdentity(i % 2 === 0 ? a : b)).id);
      const last = created.at(-1) as string;
      await Promise.all([waitForSubject(onA, last), waitForSubject(onB, last)]);

      for (const recorder of [onA, onB]) {
        const events = eventsOf(recorder.sinceMark());
        expect(events.map((e) => e.subjectId)).toEqual(created);
        const seqs = events.map((e) => Number(e.seq));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
    },
  );

  it.skipIf(!shared)(
    `should end a subscription on one instance within 2 s of revokeGrant through another ${SKIP_REASON}`,
    async () => {
      const subscriber = await identityWithGrants(a, ['audit:read']);
      const onB = await liveSubscription(b, subscriber, { action: 'identity.created' }, a);

      await revokeGrant(a, subscriber.grants[0]?.id as string);
      await within(onB.ended, REVOCATION_BOUND_MS, 'the end of the subscription on B');

      await expectEndedForbidden(onB);
      expect(eventsOf(onB.sinceMark())).toEqual([]);
    },
  );

  it.skipIf(!shared)(
    `should end a subscription on one instance within 2 s of revokeApiKey through another ${SKIP_REASON}`,
    async () => {
      const subscriber = await identityWithGrants(a, ['audit:read']);
      const onB = await liveSubscription(b, subscriber, undefined, a);

      await revokeApiKey(a, subscriber.keyId);
      const afterwards = await createIdentity(a);
      await within(onB.ended, REVOCATION_BOUND_MS, 'the end of the subscription on B');

      await expectEndedForbidden(onB);
      expect(eventsOf(onB.results).map((e) => e.subjectId)).not.toContain(afterwards.id);
      expect(eventsOf(onB.results).map((e) => e.action)).not.toContain('apikey.revoked');
    },
  );
});

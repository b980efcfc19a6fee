import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import {
  createIdentity,
  createKey,
  defineScope,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, type WsClient } from '../fixtures/ws.js';
import {
  type AuditRecorder,
  eventsOf,
  markerIdentity,
  newestSeq,
  primeSubscriptions,
  subscribeToAudit,
  waitForSubject,
} from './audit-subscriber.js';
import { disableIdentity } from './revoke.js';

describe.each(engines())('Subscription.auditEvents on %s', (engine) => {
  let server: TestServer;
  let auditor: SeededPrincipal;
  const open: WsClient[] = [];

  const connect = async (key: string) => {
    const client = await connectAs(server.url, key);
    open.push(client);
    return client.client;
  };

  /** A subscription as the auditor (audit:read only), live once this resolves. */
  const liveSubscription = async (
    filter?: Record<string, unknown>,
    trigger: () => Promise<string> = () => markerIdentity(server),
  ): Promise<AuditRecorder> => {
    const recorder = subscribeToAudit(await connect(auditor.key), filter);
    await primeSubscriptions([recorder], trigger);
    return recorder;
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
    auditor = await identityWithGrants(server, ['audit:read']);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('who may subscribe', () => {
    it('should answer a subscriber without audit:read with FORBIDDEN at ["auditEvents"] and complete', async () => {
      const outsider = await identityWithGrants(server, ['identities:read', 'grants:read']);
      const recorder = subscribeToAudit(await connect(outsider.key));

      const ending = await recorder.ended;

      expect(ending).toEqual({ kind: 'complete' });
      expect(recorder.results).toHaveLength(1);
      const [result] = recorder.results;
      expect(result?.data ?? null).toBeNull();
      expect(result?.errors).toHaveLength(1);
      expect(result?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result?.errors?.[0]?.path).toEqual(['auditEvents']);
      expect(result?.errors?.[0]?.message).toContain('audit:read');
    });

    it('should refuse a filter whose actorId is not an identity id with BAD_USER_INPUT', async () => {
      const recorder = subscribeToAudit(await connect(auditor.key), { actorId: 'not-an-id' });

      expect(await recorder.ended).toEqual({ kind: 'complete' });
      expect(recorder.results).toHaveLength(1);
      expect(recorder.results[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(recorder.results[0]?.errors?.[0]?.path).toEqual(['auditEvents']);
    });
  });

  describe('delivery', () => {
    it('should deliver the events committed after subscribing, in seq order', async () => {
      const recorder = await liveSubscription();

      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await createIdentity(server)).id);
      await waitForSubject(recorder, created[4] as string);

      const events = eventsOf(recorder.sinceMark());
      expect(events.map((e) => [e.action, e.subjectId, e.actorId])).toEqual(
        created.map((id) => ['identity.created', id, server.adminId]),
      );
      const seqs = events.map((e) => Number(e.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('should not replay events committed before subscribing', async () => {
      const before = await createIdentity(server);
      const newestBefore = await newestSeq(server);

      const recorder = subscribeToAudit(await connect(auditor.key));
      await primeSubscriptions([recorder], () => markerIdentity(server));
      const after = await createIdentity(server);
      await waitForSubject(recorder, after.id);

      const events = eventsOf(recorder.results);
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => Number(e.seq) > newestBefore)).toBe(true);
      expect(events.map((e) => e.subjectId)).not.toContain(before.id);
    });

    it('should deliver each event once to each of two subscriptions on one socket', async () => {
      const client = await connect(auditor.key);
      const first = subscribeToAudit(client);
      const second = subscribeToAudit(client, { action: 'identity.created' });
      await primeSubscriptions([first, second], () => markerIdentity(server));

      const created = [(await createIdentity(server)).id, (await createIdentity(server)).id];
      await Promise.all([first, second].map((r) => waitForSubject(r, created[1] as string)));

      for (const recorder of [first, second]) {
        expect(eventsOf(recorder.sinceMark()).map((e) => e.subjectId)).toEqual(created);
      }
    });
  });

  describe('filters', () => {
    it('should deliver only the exact action an action filter names', async () => {
      const recorder = await liveSubscription({ action: 'identity.created' });

      await defineScope(server);
      const x = await createIdentity(server);
      await createKey(server, x.id);
      await disableIdentity(server, x.id);
      const z = await createIdentity(server);
      await waitForSubject(recorder, z.id);

      expect(eventsOf(recorder.sinceMark()).map((e) => [e.action, e.subjectId])).toEqual([
        ['identity.created', x.id],
        ['identity.created', z.id],
      ]);
    });

    it('should deliver every action under a prefix ending in "."', async () => {
      const recorder = await liveSubscription({ action: 'identity.' });

      await defineScope(server);
      const x = await createIdentity(server);
      await createKey(server, x.id);
      await disableIdentity(server, x.id);
      const z = await createIdentity(server);
      await waitForSubject(recorder, z.id);

      expect(eventsOf(recorder.sinceMark()).map((e) => [e.action, e.subjectId])).toEqual([
        ['identity.created', x.id],
        ['identity.disabled', x.id],
        ['identity.created', z.id],
      ]);
    });

    it('should deliver only the changes made by the identity an actorId filter names', async () => {
      const delegate = await identityWithGrants(server, ['identities:write', 'identities:read']);
      const recorder = await liveSubscription({ actorId: delegate.id }, () =>
        markerIdentity(server, delegate.key),
      );

      await createIdentity(server);
      const first = await createIdentity(server, { as: delegate.key });
      await createIdentity(server);
      const second = await createIdentity(server, { as: delegate.key });
      await waitForSubject(recorder, second.id);

      const events = eventsOf(recorder.sinceMark());
      expect(events.map((e) => e.subjectId)).toEqual([first.id, second.id]);
      expect(events.every((e) => e.actorId === delegate.id)).toBe(true);
    });

    it('should deliver only the changes to the subject a subjectId filter names', async () => {
      const subject = await createIdentity(server);
      const client = await connect(auditor.key);
      // Nothing about `subject` can be repeated to prime this subscription, so an unfiltered one
      // opened after it on the same socket is primed instead.
      const recorder = subscribeToAudit(client, { subjectId: subject.id });
      const everything = subscribeToAudit(client);
      await primeSubscriptions([everything], () => markerIdentity(server));

      await createIdentity(server);
      await createKey(server, subject.id);
      await disableIdentity(server, subject.id);
      await waitForSubject(recorder, subject.id);
      const last = await createIdentity(server);
      await waitForSubject(everything, last.id);

      expect(eventsOf(recorder.results).map((e) => [e.action, e.subjectId])).toEqual([
        ['identity.disabled', subject.id],
      ]);
    });
  });
});

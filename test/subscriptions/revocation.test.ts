import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import {
  createIdentity,
  createKey,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { connectAs, type WsClient, within } from '../fixtures/ws.js';
import {
  type AuditRecorder,
  eventsOf,
  expectEndedForbidden,
  markerIdentity,
  primeSubscriptions,
  seqOf,
  subscribeToAudit,
  waitForSubject,
} from './audit-subscriber.js';
import { disableIdentity, revokeApiKey, revokeGrant } from './revoke.js';

/** DESIGN: a lost grant ends the subscription within one second; allow two. */
const REVOCATION_BOUND_MS = 2000;

/** A way to take audit:read away from a subscriber, and the audit event it commits. */
interface Revocation {
  readonly name: string;
  revoke(server: TestServer, subscriber: SeededPrincipal): Promise<void>;
  readonly event: (subscriber: SeededPrincipal) => { action: string; subjectId: string };
}

const auditGrantOf = (subscriber: SeededPrincipal) => {
  const grant = subscriber.grants.find((g) => g.scope === 'audit:read');
  if (grant === undefined) throw new Error('The subscriber holds no audit:read grant.');
  return grant.id;
};

const revocations: Revocation[] = [
  {
    name: 'revokeGrant of its audit:read grant',
    revoke: (server, subscriber) => revokeGrant(server, auditGrantOf(subscriber)),
    event: (s) => ({ action: 'grant.revoked', subjectId: auditGrantOf(s) }),
  },
  {
    name: "revokeApiKey of the socket's key",
    revoke: (server, subscriber) => revokeApiKey(server, subscriber.keyId),
    event: (s) => ({ action: 'apikey.revoked', subjectId: s.keyId }),
  },
  {
    name: 'disableIdentity of the subscriber',
    revoke: (server, subscriber) => disableIdentity(server, subscriber.id),
    event: (s) => ({ action: 'identity.disabled', subjectId: s.id }),
  },
];

describe.each(engines())('audit subscriptions losing access on %s', (engine) => {
  let server: TestServer;
  const open: WsClient[] = [];

  /** A live audit subscription of `subscriber`, primed with identities the admin creates. */
  const liveSubscription = async (
    subscriber: SeededPrincipal,
    filter?: Record<string, unknown>,
  ): Promise<AuditRecorder> => {
    const client = await connectAs(server.url, subscriber.key);
    open.push(client);
    const recorder = subscribeToAudit(client.client, filter);
    await primeSubscriptions([recorder], () => markerIdentity(server));
    return recorder;
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

  describe.each(revocations)('by $name', (revocation) => {
    it('should end the subscription with FORBIDDEN within 2 s even when no event arrives', async () => {
      const subscriber = await identityWithGrants(server, ['audit:read']);
      // The revocation's own event does not pass this filter: only the periodic re-check sees it.
      const recorder = await liveSubscription(subscriber, { action: 'identity.created' });

      await revocation.revoke(server, subscriber);
      await within(recorder.ended, REVOCATION_BOUND_MS, 'the end of the subscription');

      await expectEndedForbidden(recorder);
      expect(eventsOf(recorder.sinceMark())).toEqual([]);
    });

    it('should deliver no event committed after the revocation returned', async () => {
      const subscriber = await identityWithGrants(server, ['audit:read']);
      const recorder = await liveSubscription(subscriber);

      await revocation.revoke(server, subscriber);
      const afterwards = [
        (await createIdentity(server)).id,
        (await createIdentity(server)).id,
        (await createIdentity(server)).id,
      ];
      await within(recorder.ended, REVOCATION_BOUND_MS, 'the end of the subscription');

      await expectEndedForbidden(recorder);
      const { action, subjectId } = revocation.event(subscriber);
      const revokedAt = await seqOf(server, action, subjectId);
      const delivered = eventsOf(recorder.results);
      expect(delivered.filter((e) => Number(e.seq) >= revokedAt)).toEqual([]);
      expect(delivered.filter((e) => afterwards.includes(e.subjectId ?? ''))).toEqual([]);
    });
  });

  it('should end the subscription with FORBIDDEN within 2 s of its grant expiring, with nothing changing', async () => {
    const subscriber = await identityWithGrants(server, [{ scope: 'audit:read', ttlSeconds: 2 }]);
    const expiresAt = Date.parse(subscriber.grants[0]?.expiresAt as string);
    const recorder = await liveSubscription(subscriber, { action: 'identity.created' });
    expect(recorder.ending).toBeUndefined();

    await within(
      recorder.ended,
      Math.max(expiresAt + REVOCATION_BOUND_MS - Date.now(), 0),
      'the end of the subscription two seconds after the grant expired',
    );

    await expectEndedForbidden(recorder);
  });

  it("should end the subscription with FORBIDDEN within 2 s of the socket's key expiring", async () => {
    const holder = await identityWithGrants(server, ['audit:read']);
    const key = await createKey(server, holder.id, { ttlSeconds: 2 });
    const subscriber = { ...holder, key: key.secret, keyId: key.id };
    const expiresAt = Date.parse(key.expiresAt as string);
    const recorder = await liveSubscription(subscriber, { action: 'identity.created' });
    expect(recorder.ending).toBeUndefined();

    await within(
      recorder.ended,
      Math.max(expiresAt + REVOCATION_BOUND_MS - Date.now(), 0),
      'the end of the subscription two seconds after the key expired',
    );

    await expectEndedForbidden(recorder);
  });

  it('should keep the subscription when a grant of another scope is revoked', async () => {
    const subscriber = await identityWithGrants(server, ['audit:read', 'scopes:read']);
    const recorder = await liveSubscription(subscriber);
    const other = subscriber.grants.find((g) => g.scope === 'scopes:read');

    await revokeGrant(server, other?.id as string);
    const later = await createIdentity(server);
    await waitForSubject(recorder, later.id);

    expect(recorder.ending).toBeUndefined();
    // The keys earlier specs revoked or let expire are refused meanwhile: their auth.failed
    // events (written off the request path) may land in this window too.
    const actions = eventsOf(recorder.sinceMark()).map((e) => e.action);
    expect(actions.filter((action) => action !== 'auth.failed')).toEqual([
      'grant.revoked',
      'identity.created',
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  createScratchDataDir,
  engines,
  type ScratchDatabase,
} from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  sleep,
  unique,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

const START = `mutation($input: StartAccessReviewInput!) {
  startAccessReview(input: $input) {
    id name status dueAt closedAt createdBy { id }
    filter { scope identityId createdBefore olderThanSeconds }
    counts { total pending kept revoked }
    items(first: 50) { nodes { id decision outcome grant { id scope { name } identity { id } } } }
  }
}`;
const DECIDE = `mutation($itemId: ID!, $decision: AccessReviewDecision!, $note: String) {
  decideAccessReviewItem(itemId: $itemId, decision: $decision, note: $note) {
    id decision outcome decidedAt decidedBy { id } note
    grant { id active revokedAt revokeReason revokedBy { id } }
  }
}`;
const REVIEW = `query($id: ID!, $decided: Boolean) {
  accessReview(id: $id) {
    id name status dueAt closedAt
    counts { total pending kept revoked }
    items(first: 50, decided: $decided) {
      nodes {
        id decision outcome decidedAt decidedBy { id } note
        grant { id active revokedAt revokeReason revokedBy { id } identity { id } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const EVENTS = `query($filter: AuditFilter) {
  auditEvents(first: 100, filter: $filter) { nodes { action actorId subjectId details } }
}`;

interface Item {
  id: string;
  decision: 'KEEP' | 'REVOKE' | null;
  outcome: string;
  decidedAt: string | null;
  decidedBy: { id: string } | null;
  note: string | null;
  grant: {
    id: string;
    active: boolean;
    revokedAt: string | null;
    revokeReason: string | null;
    revokedBy: { id: string } | null;
    identity: { id: string };
    scope?: { name: string };
  };
}
interface Review {
  id: string;
  name: string;
  status: 'OPEN' | 'CLOSED';
  dueAt: string;
  closedAt: string | null;
  createdBy?: { id: string };
  filter?: Record<string, unknown>;
  counts: { total: number; pending: number; kept: number; revoked: number };
  items: { nodes: Item[]; pageInfo?: { hasNextPage: boolean } };
}
interface AuditEvent {
  action: string;
  actorId: string | null;
  subjectId: string;
  details: Record<string, unknown>;
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
const HOUR = 3600;

describe.each(engines())('access reviews on %s', (engine) => {
  let server: TestServer;
  /** Holds grants:write and grants:read only: may start and decide nothing of the test scopes. */
  let outsider: SeededPrincipal;

  beforeAll(async () => {
    // Two items per closing transaction, so the due-time specs also cover a review closed in
    // several runs.
    server = await startTestServer(engine, { accessReviews: { batchSize: 2 } });
    outsider = await identityWithGrants(server, ['grants:write', 'grants:read']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const start = (input: Record<string, unknown>, key = server.adminKey) =>
    gql<{ startAccessReview: Review }>(server.url, key, START, {
      input: { name: unique('review'), dueAt: inSeconds(HOUR), ...input },
    });
  const started = async (input: Record<string, unknown>, key = server.adminKey) =>
    dataOf(await start(input, key)).startAccessReview;
  const decide = (
    itemId: string,
    decision: 'KEEP' | 'REVOKE',
    note?: string,
    key = server.adminKey,
  ) =>
    gql<{ decideAccessReviewItem: Item }>(server.url, key, DECIDE, {
      itemId,
      decision,
      ...(note === undefined ? {} : { note }),
    });
  const review = async (id: string, decided?: boolean) =>
    dataOf(
      await gql<{ accessReview: Review }>(server.url, server.adminKey, REVIEW, {
        id,
        ...(decided === undefined ? {} : { decided }),
      }),
    ).accessReview;
  const events = async (filter: Record<string, unknown>) =>
    dataOf(
      await gql<{ auditEvents: { nodes: AuditEvent[] } }>(server.url, server.adminKey, EVENTS, {
        filter,
      }),
    ).auditEvents.nodes;
  const itemOf = (r: Review, grantId: string) => {
    const item = r.items.nodes.find((i) => i.grant.id === grantId);
    if (item === undefined) throw new Error(`No item for grant ${grantId} in ${JSON.stringify(r)}`);
    return item;
  };

  describe('starting a review', () => {
    it('should snapshot the active grants of a scope, leaving out other scopes, revoked grants and disabled identities', async () => {
      const scope = await defineScope(server);
      const other = await defineScope(server);
      const holders = await Promise.all([1, 2, 3].map(() => identityWithGrants(server, [scope])));
      const elsewhere = await identityWithGrants(server, [other]);
      const revoked = await identityWithGrants(server, [scope]);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "gone") { id } }',
          { id: revoked.grants[0]?.id },
        ),
      );
      const disabled = await identityWithGrants(server, [scope]);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
          {
            id: disabled.id,
          },
        ),
      );

      const r = await started({ name: 'Quarterly orders review', filter: { scope } });

      expect(r).toMatchObject({
        name: 'Quarterly orders review',
        status: 'OPEN',
        closedAt: null,
        createdBy: { id: server.adminId },
        filter: { scope, identityId: null, createdBefore: null, olderThanSeconds: null },
      });
      // The admin defined the scope, so it holds it too: its grant is under review as well.
      const holderIds = r.items.nodes.map((i) => i.grant.identity.id).sort();
      expect(holderIds).toEqual([server.adminId, ...holders.map((h) => h.id)].sort());
      expect(holderIds).not.toContain(elsewhere.id);
      expect(r.counts).toEqual({ total: 4, pending: 4, kept: 0, revoked: 0 });
      expect(r.items.nodes.every((i) => i.decision === null && i.outcome === 'PENDING')).toBe(true);
    });

    it('should page through its items without repeating one', async () => {
      const scope = await defineScope(server);
      await Promise.all([1, 2, 3].map(() => identityWithGrants(server, [scope])));
      const r = await started({ filter: { scope } });
      const page = `query($id: ID!, $after: String) {
        accessReview(id: $id) { items(first: 3, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }
      }`;
      type Items = {
        accessReview: {
          items: { nodes: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
        };
      };

      const first = dataOf(await gql<Items>(server.url, server.adminKey, page, { id: r.id }))
        .accessReview.items;
      const second = dataOf(
        await gql<Items>(server.url, server.adminKey, page, {
          id: r.id,
          after: first.pageInfo.endCursor,
        }),
      ).accessReview.items;

      expect(first.pageInfo.hasNextPage).toBe(true);
      expect(second.pageInfo.hasNextPage).toBe(false);
      expect([...first.nodes, ...second.nodes].map((n) => n.id).sort()).toEqual(
        r.items.nodes.map((n) => n.id).sort(),
      );
      expectError(
        await gql(server.url, server.adminKey, page, { id: r.id, after: 'bogus' }),
        'BAD_USER_INPUT',
        'cursor',
      );
    });

    it('should list reviews with a page of items for each', async () => {
      const scope = await defineScope(server);
      await Promise.all([1, 2].map(() => identityWithGrants(server, [scope])));
      const one = await started({ filter: { scope } });
      const two = await started({ filter: { scope } });

      const { accessReviews } = dataOf(
        await gql<{
          accessReviews: {
            nodes: {
              id: string;
              counts: { total: number };
              items: { nodes: Item[]; pageInfo: { hasNextPage: boolean } };
            }[];
          };
        }>(
          server.url,
          server.adminKey,
          `{ accessReviews(first: 50, status: OPEN) { nodes { id counts { total }
              items(first: 2) { nodes { id decidedAt grant { id } } pageInfo { hasNextPage } } } } }`,
        ),
      );

      for (const r of [one, two]) {
        const listed = accessReviews.nodes.find((n) => n.id === r.id);
        expect(listed?.counts.total).toBe(3);
        expect(listed?.items.pageInfo.hasNextPage).toBe(true);
        expect(listed?.items.nodes.map((i) => i.id).sort()).toEqual(
          r.items.nodes
            .map((i) => i.id)
            .sort()
            .slice(0, 2),
        );
      }
    });

    it('should cover the grants of one identity', async () => {
      const [a, b] = [await defineScope(server), await defineScope(server)];
      const subject = await identityWithGrants(server, [a, b]);
      await identityWithGrants(server, [a]);

      const r = await started({ filter: { identityId: subject.id } });

      expect(r.items.nodes.map((i) => i.grant.id).sort()).toEqual(
        subject.grants.map((g) => g.id).sort(),
      );
    });

    it('should cover grants older than an age, or created before an instant', async () => {
      const scope = await defineScope(server);
      const subject = await identityWithGrants(server, [{ scope, resource: 'old' }]);
      await sleep(1100);
      const boundary = new Date().toISOString();
      await sleep(20);
      const recent = await grant(server, subject.id, { scope, resource: 'recent' });

      const byAge = await started({ filter: { identityId: subject.id, olderThanSeconds: 1 } });
      const byInstant = await started({
        filter: { identityId: subject.id, createdBefore: boundary },
      });

      const old = subject.grants[0]?.id;
      expect(byAge.items.nodes.map((i) => i.grant.id)).toEqual([old]);
      expect(byAge.filter?.olderThanSeconds).toBe(1);
      expect(typeof byAge.filter?.createdBefore).toBe('string');
      expect(byInstant.items.nodes.map((i) => i.grant.id)).toEqual([old]);
      expect(byInstant.items.nodes.map((i) => i.grant.id)).not.toContain(recent.id);
    });

    it('should record accessreview.started with the filter, the due time and the number of grants', async () => {
      const scope = await defineScope(server);
      await identityWithGrants(server, [scope]);

      const r = await started({ filter: { scope } });

      const [event] = await events({ subjectId: r.id, action: 'accessreview.started' });
      expect(event).toMatchObject({
        actorId: server.adminId,
        details: {
          after: { name: r.name, dueAt: r.dueAt, items: 2, filter: { scope } },
          scopes: [scope],
        },
      });
    });

    it('should refuse a due time in the past or more than a year away with BAD_USER_INPUT, starting nothing', async () => {
      const scope = await defineScope(server);
      const before = await snapshot(server);
      const reviews = await countReviews();

      expectError(
        await start({ filter: { scope }, dueAt: inSeconds(-1) }),
        'BAD_USER_INPUT',
        'is not in the future',
      );
      expectError(
        await start({ filter: { scope }, dueAt: inSeconds(400 * 24 * HOUR) }),
        'BAD_USER_INPUT',
        'more than a year away',
      );
      expect(await snapshot(server)).toEqual(before);
      expect(await countReviews()).toEqual(reviews);
    });

    it('should refuse an empty filter, a filter matching nothing and a malformed one with BAD_USER_INPUT', async () => {
      const unused = await defineScope(server);
      const nobody = await createIdentity(server);

      expectError(await start({ filter: {} }), 'BAD_USER_INPUT', 'at least one filter criterion');
      expectError(
        await start({ filter: { identityId: nobody.id } }),
        'BAD_USER_INPUT',
        'No active grant matches',
      );
      expectError(
        await start({ filter: { scope: 'Orders' } }),
        'BAD_USER_INPUT',
        'not a valid scope name',
      );
      expectError(
        await start({ filter: { scope: unused, olderThanSeconds: 0 } }),
        'BAD_USER_INPUT',
        'olderThanSeconds',
      );
      expectError(
        await start({
          filter: { scope: unused, olderThanSeconds: 5, createdBefore: inSeconds(-5) },
        }),
        'BAD_USER_INPUT',
        'not both',
      );
      expectError(
        await start({ filter: { scope: unused }, name: '  ' }),
        'BAD_USER_INPUT',
        'name must not be empty',
      );
    });

    it('should refuse an unknown scope or identity in the filter with NOT_FOUND', async () => {
      expectError(
        await start({ filter: { scope: 'nothing.here:read' } }),
        'NOT_FOUND',
        'Scope "nothing.here:read" is not defined',
      );
      expectError(
        await start({ filter: { identityId: '00000000-0000-4000-8000-000000000000' } }),
        'NOT_FOUND',
        'Identity 00000000-0000-4000-8000-000000000000 does not exist',
      );
    });

    it('should refuse a starter who could not revoke every grant covered with FORBIDDEN, starting nothing', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const before = await countReviews();

      const response = await start({ filter: { scope } }, outsider.key);

      const error = expectError(
        response,
        'FORBIDDEN',
        'requires being able to revoke every grant it covers',
      );
      expect(error.extensions?.grantIds).toContain(holder.grants[0]?.id);
      expect(await countReviews()).toEqual(before);
    });

    it('should refuse a caller without grants:write with FORBIDDEN', async () => {
      const reader = await identityWithGrants(server, ['grants:read']);

      expectError(
        await start({ filter: { scope: 'grants:read' } }, reader.key),
        'FORBIDDEN',
        'grants:write',
      );
    });
  });

  async function countReviews() {
    const data = dataOf(
      await gql<{ accessReviews: { nodes: { id: string }[] } }>(
        server.url,
        server.adminKey,
        '{ accessReviews(first: 500) { nodes { id } } }',
      ),
    );
    return { total: data.accessReviews.nodes.length };
  }

  describe('deciding items', () => {
    it('should keep a grant, and revoke another in the same transaction as the decision, with the review in its reason', async () => {
      const scope = await defineScope(server);
      const [kept, gone] = [
        await identityWithGrants(server, [scope]),
        await identityWithGrants(server, [scope]),
      ];
      const r = await started({ name: 'Payroll Q4', filter: { scope } });
      const keptGrant = kept.grants[0]?.id as string;
      const goneGrant = gone.grants[0]?.id as string;

      const keep = dataOf(
        await decide(itemOf(r, keptGrant).id, 'KEEP', 'still on payroll'),
      ).decideAccessReviewItem;
      const revoke = dataOf(
        await decide(itemOf(r, goneGrant).id, 'REVOKE', 'left the team'),
      ).decideAccessReviewItem;

      expect(keep).toMatchObject({
        decision: 'KEEP',
        outcome: 'KEPT',
        decidedBy: { id: server.adminId },
        note: 'still on payroll',
        grant: { id: keptGrant, active: true, revokedAt: null },
      });
      expect(revoke).toMatchObject({
        decision: 'REVOKE',
        outcome: 'REVOKED',
        decidedBy: { id: server.adminId },
        grant: {
          id: goneGrant,
          active: false,
          revokeReason: 'access review "Payroll Q4": left the team',
          revokedBy: { id: server.adminId },
        },
      });
      expect(revoke.grant.revokedAt).toBe(revoke.decidedAt);
      const after = await review(r.id);
      expect(after.counts).toEqual({ total: 3, pending: 1, kept: 1, revoked: 1 });
      expect((await review(r.id, true)).items.nodes.map((i) => i.grant.id).sort()).toEqual(
        [keptGrant, goneGrant].sort(),
      );
      expect((await review(r.id, false)).items.nodes.map((i) => i.grant.identity.id)).toEqual([
        server.adminId,
      ]);
    });

    it('should audit each decision, and the revocation as grant.revoked naming the review', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const grantId = holder.grants[0]?.id as string;
      const r = await started({ filter: { scope, identityId: holder.id } });
      const itemId = itemOf(r, grantId).id;

      dataOf(await decide(itemId, 'REVOKE'));

      const [decided] = await events({ subjectId: itemId });
      expect(decided).toMatchObject({
        action: 'accessreview.item_decided',
        actorId: server.adminId,
        details: {
          accessReviewId: r.id,
          grantId,
          decision: 'REVOKE',
          outcome: 'REVOKED',
          scopes: [scope],
        },
      });
      const [revoked] = await events({ subjectId: grantId, action: 'grant.revoked' });
      expect(revoked).toMatchObject({
        actorId: server.adminId,
        details: {
          reason: `access review "${r.name}"`,
          accessReviewId: r.id,
          accessReviewItemId: itemId,
        },
      });
    });

    it('should record a REVOKE of a grant revoked meanwhile as ALREADY_ENDED, revoking nothing again', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const grantId = holder.grants[0]?.id as string;
      const r = await started({ filter: { scope, identityId: holder.id } });
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "offboarded") { id } }',
          {
            id: grantId,
          },
        ),
      );

      const item = dataOf(await decide(itemOf(r, grantId).id, 'REVOKE')).decideAccessReviewItem;

      expect(item).toMatchObject({
        decision: 'REVOKE',
        outcome: 'ALREADY_ENDED',
        grant: { revokeReason: 'offboarded' },
      });
      expect(await events({ subjectId: grantId, action: 'grant.revoked' })).toHaveLength(1);
    });

    it('should refuse a second decision on an item with CONFLICT, and let exactly one of two concurrent decisions win', async () => {
      const scope = await defineScope(server);
      const [a, b] = [
        await identityWithGrants(server, [scope]),
        await identityWithGrants(server, [scope]),
      ];
      const r = await started({ filter: { scope } });
      const first = itemOf(r, a.grants[0]?.id as string).id;
      dataOf(await decide(first, 'KEEP'));

      expectError(await decide(first, 'REVOKE'), 'CONFLICT', 'was already decided (KEEP)');

      const racing = itemOf(r, b.grants[0]?.id as string).id;
      const outcomes = await Promise.all([
        decide(racing, 'KEEP'),
        decide(racing, 'REVOKE'),
        decide(racing, 'KEEP'),
      ]);
      const won = outcomes.filter((o) => o.body.errors === undefined);
      expect(won).toHaveLength(1);
      for (const lost of outcomes.filter((o) => o.body.errors !== undefined)) {
        expectError(lost, 'CONFLICT', 'was already decided');
      }
      expect(await events({ subjectId: racing })).toHaveLength(1);
    });

    it('should refuse a reviewer who could not revoke the grant with FORBIDDEN, changing nothing', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const r = await started({ filter: { scope, identityId: holder.id } });
      const before = await snapshot(server);

      const response = await decide(
        r.items.nodes[0]?.id as string,
        'REVOKE',
        undefined,
        outsider.key,
      );

      expectError(response, 'FORBIDDEN', 'requires being able to revoke grant');
      expect(await snapshot(server)).toEqual(before);
      expect((await review(r.id)).counts.pending).toBe(1);
    });

    it('should let nobody review their own grant, nor one of their own agent (FORBIDDEN)', async () => {
      const scope = await defineScope(server);
      const reviewer = await identityWithGrants(
        server,
        ['grants:write', 'grants:read', { scope, grantable: true }],
        { kind: 'USER' },
      );
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: reviewer.id });
      const agentGrant = await grant(server, agent.id, { scope });
      const r = await started({ filter: { scope } });

      expectError(
        await decide(
          itemOf(r, reviewer.grants[2]?.id as string).id,
          'KEEP',
          undefined,
          reviewer.key,
        ),
        'FORBIDDEN',
        'Nobody reviews their own grant',
      );
      expectError(
        await decide(itemOf(r, agentGrant.id).id, 'KEEP', undefined, reviewer.key),
        'FORBIDDEN',
        'one party with you',
      );
    });

    it('should let a reviewer holding the scope grantable decide grants someone else made', async () => {
      const scope = await defineScope(server);
      const reviewer = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const holder = await identityWithGrants(server, [scope]);
      const r = await started({ filter: { scope, identityId: holder.id } });

      const item = dataOf(
        await decide(r.items.nodes[0]?.id as string, 'KEEP', undefined, reviewer.key),
      ).decideAccessReviewItem;

      expect(item).toMatchObject({ outcome: 'KEPT', decidedBy: { id: reviewer.id } });
    });

    it('should answer NOT_FOUND for an unknown item, BAD_USER_INPUT for a malformed id, and null for an unknown review', async () => {
      expectError(
        await decide('00000000-0000-4000-8000-000000000000', 'KEEP'),
        'NOT_FOUND',
        'Access review item 00000000-0000-4000-8000-000000000000 does not exist',
      );
      expectError(
        await decide('nope', 'KEEP'),
        'BAD_USER_INPUT',
        'not a valid access review item id',
      );
      const data = dataOf(
        await gql(server.url, server.adminKey, 'query($id: ID!) { accessReview(id: $id) { id } }', {
          id: '00000000-0000-4000-8000-000000000000',
        }),
      );
      expect(data.accessReview).toBeNull();
    });

    it('should refuse reading reviews without grants:read', async () => {
      const stranger = await identityWithGrants(server, ['identities:read']);

      const response = await gql(server.url, stranger.key, '{ accessReviews { nodes { id } } }');

      expectError(response, 'FORBIDDEN', 'grants:read');
    });
  });

  describe('the due time', () => {
    it('should revoke undecided grants at the due time, keep decided ones, close the review and audit it all', async () => {
      const scope = await defineScope(server);
      const [kept, late1, late2] = [
        await identityWithGrants(server, [scope]),
        await identityWithGrants(server, [scope]),
        await identityWithGrants(server, [scope]),
      ];
      const dueAt = inSeconds(2);
      const r = await started({
        name: 'Due soon',
        filter: { scope, identityId: undefined },
        dueAt,
      });
      dataOf(await decide(itemOf(r, kept.grants[0]?.id as string).id, 'KEEP'));

      const closed = await expectEventually(
        () => review(r.id),
        (x) => x.status === 'CLOSED',
        'the review closing at its due time',
      );

      const reason = `not reviewed by ${r.dueAt} in access review "Due soon"`;
      expect(closed.closedAt).not.toBeNull();
      expect(itemOf(closed, kept.grants[0]?.id as string)).toMatchObject({
        outcome: 'KEPT',
        grant: { active: true },
      });
      for (const late of [late1, late2]) {
        expect(itemOf(closed, late.grants[0]?.id as string)).toMatchObject({
          decision: 'REVOKE',
          outcome: 'REVOKED',
          decidedBy: null,
          grant: { active: false, revokedBy: null, revokeReason: reason },
        });
        const [event] = await events({ subjectId: late.grants[0]?.id, action: 'grant.revoked' });
        expect(event).toMatchObject({
          actorId: null,
          details: { reason, accessReviewId: r.id, automatic: true },
        });
      }
      // The admin's own grant of the scope (it defined it) was under review too, undecided: it is
      // the scope's only root holder, so the due time keeps it (nobody could grant it again).
      expect(closed.counts).toEqual({ total: 4, pending: 0, kept: 2, revoked: 2 });
      const [closing] = await events({ subjectId: r.id, action: 'accessreview.closed' });
      expect(closing).toMatchObject({
        actorId: null,
        details: {
          counts: {
            total: 4,
            kept: 1,
            revoked: 0,
            revokedAtDue: 2,
            alreadyEnded: 0,
            keptAsLastRootHolder: 1,
          },
          scopes: [scope],
        },
      });
      expectError(
        await decide(itemOf(r, late1.grants[0]?.id as string).id, 'KEEP'),
        'CONFLICT',
        'closed at',
      );
      const listed = dataOf(
        await gql<{ accessReviews: { nodes: { id: string; status: string }[] } }>(
          server.url,
          server.adminKey,
          '{ open: accessReviews(first: 500, status: OPEN) { nodes { id } } accessReviews(first: 500, status: CLOSED) { nodes { id status } } }',
        ),
      ) as unknown as {
        open: { nodes: { id: string }[] };
        accessReviews: { nodes: { id: string; status: string }[] };
      };
      expect(listed.accessReviews.nodes.map((n) => n.id)).toContain(r.id);
      expect(listed.accessReviews.nodes.every((n) => n.status === 'CLOSED')).toBe(true);
      expect(listed.open.nodes.map((n) => n.id)).not.toContain(r.id);
    });

    it('should refuse decisions once the review is due, whether or not it has closed yet (CONFLICT)', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const r = await started({ filter: { scope, identityId: holder.id }, dueAt: inSeconds(1) });
      await sleep(1100);

      const response = await decide(r.items.nodes[0]?.id as string, 'KEEP');

      expectError(response, 'CONFLICT', /fell due at|closed at/);
    });

    it('should keep the last grantable holder of a built-in scope at the due time, saying why', async () => {
      const grantWrite = (
        dataOf(await gql(server.url, server.adminKey, '{ me { grants { id scope { name } } } }'))
          .me as {
          grants: { id: string; scope: { name: string } }[];
        }
      ).grants.find((g) => g.scope.name === 'grants:write')?.id as string;
      const r = await started({
        name: 'Admins',
        filter: { scope: 'grants:write', identityId: server.adminId },
        dueAt: inSeconds(1),
      });

      const closed = await expectEventually(
        () => review(r.id),
        (x) => x.status === 'CLOSED',
        'the review closing at its due time',
      );

      expect(itemOf(closed, grantWrite)).toMatchObject({
        decision: 'KEEP',
        outcome: 'KEPT_AS_LAST_ROOT_HOLDER',
        decidedBy: null,
        grant: { active: true },
      });
      expect(itemOf(closed, grantWrite).note).toContain(
        'would leave no active identity holding "grants:write" grantable',
      );
      const [kept] = await events({ subjectId: itemOf(closed, grantWrite).id });
      expect(kept).toMatchObject({
        action: 'accessreview.item_decided',
        actorId: null,
        details: { decision: 'KEEP' },
      });
      expect(server.logs.some((l) => l.message.includes(`kept grant ${grantWrite}`))).toBe(true);
    });
  });
});

describe.each(engines())('access reviews across restarts on %s', (engine) => {
  it('should close a review that fell due while no instance was running, once it starts', async () => {
    const dir = engine === 'pglite' ? await createScratchDataDir() : undefined;
    const database: ScratchDatabase | undefined =
      engine === 'postgres' ? await createScratchDatabase() : undefined;
    const where = dir === undefined ? { databaseUrl: database?.url } : { dataDir: dir.path };
    try {
      const first = await startTestServer(engine, where);
      const scope = await defineScope(first);
      const holder = await identityWithGrants(first, [scope]);
      const r = dataOf(
        await gql<{ startAccessReview: Review }>(first.url, first.adminKey, START, {
          input: {
            name: 'Over the weekend',
            filter: { scope, identityId: holder.id },
            dueAt: inSeconds(1),
          },
        }),
      ).startAccessReview;
      await first.stop();
      await sleep(1500);

      const second = await startTestServer(engine, where);
      try {
        const closed = await expectEventually(
          async () =>
            dataOf(
              await gql<{ accessReview: Review }>(second.url, second.adminKey, REVIEW, {
                id: r.id,
              }),
            ).accessReview,
          (x) => x.status === 'CLOSED',
          'the overdue review closing after the restart',
        );
        expect(closed.items.nodes[0]).toMatchObject({
          outcome: 'REVOKED',
          grant: { active: false },
        });
      } finally {
        await second.stop();
      }
    } finally {
      await dir?.remove();
      await database?.drop();
    }
  });
});

describe.each(engines())('access reviews on two instances on %s', (engine) => {
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
    'should close a due review exactly once when both instances are woken for it (PostgreSQL only: PGlite cannot be shared by two servers)',
    async () => {
      const scope = await defineScope(a);
      const holders = await Promise.all([1, 2, 3, 4, 5].map(() => identityWithGrants(a, [scope])));
      const r = dataOf(
        await gql<{ startAccessReview: Review }>(a.url, a.adminKey, START, {
          input: { name: unique('twice'), filter: { scope }, dueAt: inSeconds(2) },
        }),
      ).startAccessReview;

      await expectEventually(
        async () =>
          dataOf(await gql<{ accessReview: Review }>(b.url, b.adminKey, REVIEW, { id: r.id }))
            .accessReview,
        (x) => x.status === 'CLOSED',
        'the review closing at its due time',
      );
      // Let the instance that found the lock taken look again, as it does a second later.
      await sleep(1500);
      // The only message: the admin's own grant of the scope it defined, kept as its last root
      // holder (once, by whichever instance closed the review).
      expect(
        [...a.logs, ...b.logs]
          .filter((l) => /access review/i.test(l.message))
          .map((l) => l.message.includes('kept grant')),
      ).toEqual([true]);

      const [closed] = await a.database.query<{ n: number }>(
        "select count(*)::int as n from audit_events where action = 'accessreview.closed' and subject_id = $1",
        [r.id],
      );
      expect(Number(closed?.n)).toBe(1);
      const [revoked] = await a.database.query<{ n: number }>(
        "select count(*)::int as n from audit_events where action = 'grant.revoked' and details->>'accessReviewId' = $1",
        [r.id],
      );
      // Five holders; the admin's own grant of the scope it defined is kept (last root holder).
      expect(Number(revoked?.n)).toBe(holders.length);
    },
  );
});

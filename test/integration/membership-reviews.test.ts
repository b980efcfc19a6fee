import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  identityWithGrants,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const START = `mutation($input: StartAccessReviewInput!) {
  startAccessReview(input: $input) {
    id status dueAt filter { groupId identityId scope }
    counts { total pending kept revoked }
    items(first: 50) { nodes { id outcome grant { id } membership { id identity { id } memberGroup { id } } } }
  }
}`;
const DECIDE = `mutation($itemId: ID!, $decision: AccessReviewDecision!, $note: String) {
  decideAccessReviewItem(itemId: $itemId, decision: $decision, note: $note) {
    id decision outcome decidedBy { id }
  }
}`;
const REVIEW = `query($id: ID!) {
  accessReview(id: $id) {
    id status counts { total pending kept revoked }
    items(first: 50) { nodes { id decision outcome note membership { id identity { id } } } }
  }
}`;
const CREATE_GROUP = `mutation($input: CreateGroupInput!) { createGroup(input: $input) { id name } }`;
const ADD = `mutation($input: AddGroupMembersInput!) { addGroupMembers(input: $input) { id } }`;
const GRANT = 'mutation($input: GrantInput!) { grant(input: $input) { id } }';
const CHECK = `query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }`;
const EVENTS = `query($filter: AuditFilter) {
  auditEvents(first: 50, filter: $filter) { nodes { action actorId subjectId details } }
}`;

interface Item {
  id: string;
  decision?: string | null;
  outcome: string;
  note?: string | null;
  grant?: { id: string } | null;
  membership: { id: string; identity: { id: string } | null; memberGroup?: { id: string } | null };
}
interface Review {
  id: string;
  status: string;
  filter?: Record<string, unknown>;
  counts: { total: number; pending: number; kept: number; revoked: number };
  items: { nodes: Item[] };
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe.each(engines())('access reviews of group memberships on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const gqlAdmin = (query: string, variables: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  /** A group with a grant of a new scope, and `n` USER members. */
  const team = async (n: number) => {
    const group = dataOf(await gqlAdmin(CREATE_GROUP, { input: { name: unique('team') } }))
      .createGroup as { id: string; name: string };
    const scope = await defineScope(server);
    dataOf(await gqlAdmin(GRANT, { input: { groupId: group.id, scope, reason: 'The team.' } }));
    const members: SeededPrincipal[] = [];
    for (let i = 0; i < n; i += 1) {
      members.push(await identityWithGrants(server, [], { kind: 'USER' }));
    }
    if (n > 0) {
      dataOf(
        await gqlAdmin(ADD, {
          input: { groupId: group.id, identityIds: members.map((m) => m.id), reason: 'Joined.' },
        }),
      );
    }
    return { ...group, scope, members };
  };

  /**
   * Someone who may start and decide reviews of `group` (grants:read/write, groups:write on it),
   * and read who its members are (identities:read).
   */
  const managerOf = (group: { name: string }) =>
    identityWithGrants(
      server,
      [
        'grants:write',
        'grants:read',
        'identities:read',
        { scope: 'groups:write', resource: group.name },
      ],
      { kind: 'USER' },
    );

  const start = (groupId: string, key = server.adminKey, more: Record<string, unknown> = {}) =>
    gql<{ startAccessReview: Review }>(server.url, key, START, {
      input: {
        name: unique('members'),
        dueAt: inSeconds(3600),
        filter: { groupId },
        ...more,
      },
    });

  const itemOf = (review: Review, identityId: string) => {
    const item = review.items.nodes.find((i) => i.membership.identity?.id === identityId);
    if (item === undefined) throw new Error(`No item for ${identityId}.`);
    return item;
  };

  const allowed = async (identityId: string, scope: string) =>
    (dataOf(await gqlAdmin(CHECK, { id: identityId, scope })).check as { allowed: boolean })
      .allowed;

  it("should review a group's memberships: keep one, remove another, and audit both", async () => {
    const t = await team(2);
    const [stays, leaves] = t.members as [SeededPrincipal, SeededPrincipal];
    const manager = await managerOf(t);

    const review = dataOf(await start(t.id, manager.key)).startAccessReview;

    expect(review.filter).toEqual({ groupId: t.id, identityId: null, scope: null });
    expect(review.counts).toEqual({ total: 2, pending: 2, kept: 0, revoked: 0 });
    expect(review.items.nodes.every((i) => i.grant === null && i.outcome === 'PENDING')).toBe(true);

    const kept = dataOf(
      await gql(server.url, manager.key, DECIDE, {
        itemId: itemOf(review, stays.id).id,
        decision: 'KEEP',
      }),
    ).decideAccessReviewItem;
    const revoked = dataOf(
      await gql(server.url, manager.key, DECIDE, {
        itemId: itemOf(review, leaves.id).id,
        decision: 'REVOKE',
        note: 'Moved to another team.',
      }),
    ).decideAccessReviewItem;

    expect(kept).toMatchObject({
      decision: 'KEEP',
      outcome: 'KEPT',
      decidedBy: { id: manager.id },
    });
    expect(revoked).toMatchObject({ decision: 'REVOKE', outcome: 'REVOKED' });
    expect(await allowed(stays.id, t.scope)).toBe(true);
    expect(await allowed(leaves.id, t.scope)).toBe(false);
    const membershipId = itemOf(review, leaves.id).membership.id;
    const removed = (
      dataOf(
        await gqlAdmin(EVENTS, {
          filter: { subjectId: membershipId, action: 'group.member_removed' },
        }),
      ).auditEvents as { nodes: { actorId: string; details: Record<string, unknown> }[] }
    ).nodes;
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({
      actorId: manager.id,
      details: {
        reason: expect.stringContaining('Moved to another team.'),
        accessReviewId: review.id,
      },
    });
    const after = dataOf(await gqlAdmin(REVIEW, { id: review.id })).accessReview as Review;
    expect(after.counts).toEqual({ total: 2, pending: 0, kept: 1, revoked: 1 });
  });

  describe('who may decide', () => {
    it('should refuse a manager deciding their own membership, or one of a group they belong to', async () => {
      const t = await team(1);
      const manager = await managerOf(t);
      dataOf(
        await gqlAdmin(ADD, {
          input: { groupId: t.id, identityIds: [manager.id], reason: 'Manages and works here.' },
        }),
      );
      const inner = dataOf(await gqlAdmin(CREATE_GROUP, { input: { name: unique('inner') } }))
        .createGroup as { id: string };
      const other = await identityWithGrants(server, [], { kind: 'USER' });
      dataOf(
        await gqlAdmin(ADD, {
          input: { groupId: inner.id, identityIds: [other.id], reason: 'Joined.' },
        }),
      );
      const managerTeam = dataOf(await gqlAdmin(CREATE_GROUP, { input: { name: unique('mt') } }))
        .createGroup as { id: string };
      dataOf(
        await gqlAdmin(ADD, {
          input: { groupId: managerTeam.id, identityIds: [manager.id], reason: 'Joined.' },
        }),
      );
      dataOf(
        await gqlAdmin(ADD, {
          input: { groupId: t.id, groupIds: [managerTeam.id], reason: 'Nested team.' },
        }),
      );
      const review = dataOf(await start(t.id)).startAccessReview;
      const own = itemOf(review, manager.id);
      const nested = review.items.nodes.find(
        (i) => i.membership.memberGroup?.id === managerTeam.id,
      );

      expectError(
        await gql(server.url, manager.key, DECIDE, { itemId: own.id, decision: 'KEEP' }),
        'FORBIDDEN',
        'Nobody reviews their own membership',
      );
      expectError(
        await gql(server.url, manager.key, DECIDE, { itemId: nested?.id, decision: 'KEEP' }),
        'FORBIDDEN',
        'a group you belong to',
      );
    });

    it("should refuse the owner of a member agent deciding the agent's membership", async () => {
      const t = await team(0);
      const manager = await managerOf(t);
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: manager.id });
      dataOf(
        await gqlAdmin(ADD, { input: { groupId: t.id, identityIds: [agent.id], reason: 'Bot.' } }),
      );
      const review = dataOf(await start(t.id)).startAccessReview;

      expectError(
        await gql(server.url, manager.key, DECIDE, {
          itemId: itemOf(review, agent.id).id,
          decision: 'KEEP',
        }),
        'FORBIDDEN',
        'one party with you',
      );
    });

    it('should refuse starting or deciding without managing the group', async () => {
      const t = await team(1);
      const stranger = await identityWithGrants(server, ['grants:write', 'grants:read']);
      expectError(await start(t.id, stranger.key), 'FORBIDDEN', 'groups:write');
      const review = dataOf(await start(t.id)).startAccessReview;

      expectError(
        await gql(server.url, stranger.key, DECIDE, {
          itemId: review.items.nodes[0]?.id,
          decision: 'REVOKE',
        }),
        'FORBIDDEN',
        'groups:write',
      );
    });
  });

  it('should refuse a bad filter, naming it', async () => {
    const empty = await team(0);
    expectError(
      await start(empty.id, server.adminKey, { filter: { groupId: empty.id, scope: empty.scope } }),
      'BAD_USER_INPUT',
      'not both',
    );
    expectError(await start(empty.id), 'BAD_USER_INPUT', 'nothing to review');
    expectError(
      await start('00000000-0000-4000-8000-000000000000'),
      'NOT_FOUND',
      'Group 00000000-0000-4000-8000-000000000000 does not exist.',
    );
  });

  it('should remove undecided members at the due time, but keep the last root holder', async () => {
    // `root` holds the team's scope grantable on every resource only through the team.
    const group = dataOf(await gqlAdmin(CREATE_GROUP, { input: { name: unique('roots') } }))
      .createGroup as { id: string; name: string };
    const scope = await defineScope(server);
    dataOf(
      await gqlAdmin(GRANT, {
        input: { groupId: group.id, scope, grantable: true, reason: 'Owns the scope.' },
      }),
    );
    const root = await identityWithGrants(server, [], { kind: 'USER' });
    const late = await identityWithGrants(server, [], { kind: 'USER' });
    dataOf(
      await gqlAdmin(ADD, {
        input: { groupId: group.id, identityIds: [root.id, late.id], reason: 'Joined.' },
      }),
    );
    const adminGrants = dataOf(
      await gqlAdmin(
        `query($scope: String!) { grants(first: 5, filter: { scope: $scope }) { nodes { id identity { id } } } }`,
        { scope },
      ),
    ).grants as { nodes: { id: string; identity: { id: string } | null }[] };
    for (const g of adminGrants.nodes.filter((n) => n.identity !== null)) {
      dataOf(
        await gqlAdmin(
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Handed over.") { id } }',
          {
            id: g.id,
          },
        ),
      );
    }
    // `late` also holds it: neither membership is the last root path until one is removed.
    const review = dataOf(
      await start(group.id, server.adminKey, { dueAt: inSeconds(2) }),
    ).startAccessReview;

    const closed = (await expectEventually(
      async () => dataOf(await gqlAdmin(REVIEW, { id: review.id })).accessReview as Review,
      (r) => r.status === 'CLOSED',
      'the review closing at its due time',
    )) as Review;

    const outcomes = closed.items.nodes.map((i) => i.outcome).sort();
    expect(outcomes).toEqual(['KEPT_AS_LAST_ROOT_HOLDER', 'REVOKED']);
    const keptItem = closed.items.nodes.find((i) => i.outcome === 'KEPT_AS_LAST_ROOT_HOLDER');
    expect(keptItem?.note).toContain(scope);
    const holder = keptItem?.membership.identity?.id as string;
    expect(await allowed(holder, scope)).toBe(true);
    const removedOne = holder === root.id ? late.id : root.id;
    expect(await allowed(removedOne, scope)).toBe(false);
  });
});

import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOidcIssuers } from '../../src/modules/tokens/oidc-issuers.js';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { type SigningKey, signingKey, signToken } from '../fixtures/identity-provider.js';
import {
  createIdentity,
  createKey,
  defineScope,
  identityWithGrants,
  unique,
} from '../fixtures/seed.js';
import { countRows, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { bearer, openWsClient, within } from '../fixtures/ws.js';

/** The identity provider whose groups claim feeds groups. */
const CORP = 'https://sso.corp.test';
/** A second identity provider, trusted for sign-in of its own people only. */
const OTHER = 'https://other.test';
/** Its groups claim is called `roles`; it creates identities on first sight. */
const AUDIENCE = 'keyholder';
/** A third, trusted for sign-in, whose tokens' groups are not read. */
const NO_GROUPS = 'https://no-groups.test';

const CREATE_GROUP = `mutation($input: CreateGroupInput!) { createGroup(input: $input) { id name externalId } }`;
const FEED = `mutation($groupId: ID!, $issuer: String) {
  setGroupTokenIssuer(groupId: $groupId, issuer: $issuer, reason: "Fed by the corporate SSO.") {
    id tokenIssuer tokenFedBy { id }
  }
}`;
const ADD = `mutation($input: AddGroupMembersInput!) { addGroupMembers(input: $input) { id } }`;
const MY_GROUPS = '{ me { id groups { name source expiresAt direct } } }';
const CHECK = `query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed reason } }`;
const EVENTS = `query($filter: AuditFilter) {
  auditEvents(first: 50, filter: $filter) { nodes { action actor { id } details } }
}`;

interface MyGroups {
  me: { id: string; groups: { name: string; source: string; expiresAt: string | null }[] };
}

describe.each(engines())('groups fed by identity-provider tokens on %s', (engine) => {
  let server: TestServer;
  let corpKey: SigningKey;
  let otherKey: SigningKey;

  beforeAll(async () => {
    corpKey = await signingKey('corp-groups', 'ES256');
    otherKey = await signingKey('other-groups', 'ES256');
    const issuers = parseOidcIssuers(
      JSON.stringify([
        {
          issuer: CORP,
          audience: AUDIENCE,
          keys: [corpKey.publicJwk],
          algorithms: ['ES256'],
          clockToleranceSeconds: 0,
        },
        {
          issuer: OTHER,
          audience: AUDIENCE,
          keys: [otherKey.publicJwk],
          algorithms: ['ES256'],
          groupsClaim: 'roles',
          createIdentities: true,
          clockToleranceSeconds: 0,
        },
        {
          issuer: NO_GROUPS,
          audience: AUDIENCE,
          keys: [otherKey.publicJwk],
          algorithms: ['ES256'],
          groupsClaim: null,
        },
      ]),
    );
    server = await startTestServer(engine, { oidcIssuers: issuers });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const person = async (issuer = CORP) => {
    const sub = unique('sub');
    const identity = await createIdentity(server, {
      kind: 'USER',
      externalId: `${issuer}|${sub}`,
    });
    return { ...identity, sub };
  };

  const tokenOf = (sub: string, claims: JWTPayload = {}, issuer = CORP) =>
    signToken(issuer === CORP ? corpKey : otherKey, {
      iss: issuer,
      aud: AUDIENCE,
      sub,
      ...claims,
    });

  /** A group with an externalId, a grant of a new scope, fed by `issuer` (unless null). */
  const fedGroup = async (issuer: string | null = CORP, key = server.adminKey) => {
    const externalId = unique('idp-group');
    const group = dataOf(
      await gql(server.url, key, CREATE_GROUP, { input: { name: unique('team'), externalId } }),
    ).createGroup as { id: string; name: string; externalId: string };
    const scope = await defineScope(server);
    await gql(
      server.url,
      server.adminKey,
      'mutation($input: GrantInput!) { grant(input: $input) { id } }',
      {
        input: { groupId: group.id, scope, reason: 'The team works on it.' },
      },
    );
    if (issuer !== null) dataOf(await gql(server.url, key, FEED, { groupId: group.id, issuer }));
    return { ...group, scope };
  };

  const groupsOf = async (token: string) =>
    dataOf((await gql(server.url, token, MY_GROUPS)) as never) as MyGroups;

  /** `check`, asked with `credential`: a person's token asks about its own identity. */
  const allowed = async (credential: string, identityId: string, scope: string) =>
    (
      dataOf(await gql(server.url, credential, CHECK, { id: identityId, scope })).check as {
        allowed: boolean;
      }
    ).allowed;

  const groupNamesOf = async (identityId: string) =>
    (
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($id: ID!) { identity(id: $id) { groups { name } } }',
          {
            id: identityId,
          },
        ),
      ).identity as { groups: { name: string }[] }
    ).groups.map((g) => g.name);

  const eventsAbout = async (subjectId: string) =>
    (
      dataOf(await gql(server.url, server.adminKey, EVENTS, { filter: { subjectId } }))
        .auditEvents as {
        nodes: { action: string; actor: unknown; details: Record<string, unknown> }[];
      }
    ).nodes;

  it('should make the subject a member until the token expires, and reconcile on the next token', async () => {
    const group = await fedGroup();
    const other = await fedGroup();
    const manual = await fedGroup(null);
    const alice = await person();
    await gql(server.url, server.adminKey, ADD, {
      input: { groupId: manual.id, identityIds: [alice.id], reason: 'Added by hand.' },
    });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const first = await tokenOf(alice.sub, {
      exp,
      groups: [group.externalId, other.externalId, 'not-a-keyholder-group'],
    });

    const mine = await groupsOf(first);

    expect(mine.me.groups).toEqual(
      expect.arrayContaining([
        {
          name: group.name,
          source: 'TOKEN',
          expiresAt: new Date(exp * 1000).toISOString(),
          direct: true,
        },
        {
          name: other.name,
          source: 'TOKEN',
          expiresAt: new Date(exp * 1000).toISOString(),
          direct: true,
        },
        { name: manual.name, source: 'MANUAL', expiresAt: null, direct: true },
      ]),
    );
    expect(mine.me.groups).toHaveLength(3);
    expect(await allowed(first, alice.id, group.scope)).toBe(true);

    // The same token again writes nothing.
    const groupEvents = () => countRows(server, 'audit_events', "action like 'group.%'");
    const before = await groupEvents();
    await groupsOf(first);
    await groupsOf(first);
    expect(await groupEvents()).toBe(before);

    // The identity provider took alice out of `other`: her next token says so.
    const second = await tokenOf(alice.sub, { exp: exp + 60, groups: [group.externalId] });
    const after = await groupsOf(second);

    expect(after.me.groups.map((g) => [g.name, g.source, g.expiresAt]).sort()).toEqual(
      [
        [group.name, 'TOKEN', new Date((exp + 60) * 1000).toISOString()],
        [manual.name, 'MANUAL', null],
      ].sort(),
    );
    expect(await allowed(second, alice.id, other.scope)).toBe(false);
    expect(await allowed(second, alice.id, manual.scope)).toBe(true);
    const audit = await gql(server.url, server.adminKey, EVENTS, {
      filter: { action: 'group.' },
    });
    const mineEvents = (
      dataOf(audit).auditEvents as { nodes: { action: string; details: Record<string, unknown> }[] }
    ).nodes.filter((e) => {
      const facts = (e.details.after ?? e.details.before) as
        | { memberIdentityId?: string }
        | undefined;
      return facts?.memberIdentityId === alice.id && e.details.token !== undefined;
    });
    expect(mineEvents.map((e) => e.action).sort()).toEqual(
      [
        'group.member_added',
        'group.member_added',
        'group.member_removed',
        'group.member_renewed',
      ].sort(),
    );
    for (const event of mineEvents) {
      expect(event.details.token).toEqual({ issuer: CORP, subject: alice.sub });
    }
  });

  it('should end a token membership when the token expires, whatever the identity provider does next', async () => {
    const group = await fedGroup();
    const bob = await person();
    const token = await tokenOf(bob.sub, {
      exp: Math.floor(Date.now() / 1000) + 2,
      groups: [group.externalId],
    });
    await groupsOf(token);
    expect(await allowed(token, bob.id, group.scope)).toBe(true);
    expect(await groupNamesOf(bob.id)).toEqual([group.name]);

    await expectEventually(
      () => groupNamesOf(bob.id),
      (names) => names.length === 0,
      'the token membership ending with the token',
    );
    expectUnauthenticated(await gql(server.url, token, MY_GROUPS), 'expired');
  });

  it('should confer a token membership only on the requests that carry a token naming the group', async () => {
    const group = await fedGroup();
    const ivan = await person();
    const key = await createKey(server, ivan.id);
    const named = await tokenOf(ivan.sub, { groups: [group.externalId] });
    expect(await allowed(named, ivan.id, group.scope)).toBe(true);

    // The membership is on record (and listed), but it stands for nothing without the token.
    expect(await groupNamesOf(ivan.id)).toEqual([group.name]);
    expect(await allowed(key.secret, ivan.id, group.scope)).toBe(false);
    expect(await allowed(server.adminKey, ivan.id, group.scope)).toBe(false);
    const unnamed = await tokenOf(ivan.sub, { groups: [] });
    expect(await allowed(unnamed, ivan.id, group.scope)).toBe(false);

    // The first token still names the group, and still carries it.
    expect(await allowed(named, ivan.id, group.scope)).toBe(true);
  });

  it('should let a token member delegate through the group with that token only', async () => {
    const externalId = unique('idp-leads');
    const group = dataOf(
      await gql(server.url, server.adminKey, CREATE_GROUP, {
        input: { name: unique('leads'), externalId },
      }),
    ).createGroup as { id: string };
    const scope = await defineScope(server);
    for (const [granted, grantable] of [
      [scope, true],
      ['grants:write', false],
      ['grants:read', false],
    ] as const) {
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($input: GrantInput!) { grant(input: $input) { id } }',
          { input: { groupId: group.id, scope: granted, grantable, reason: 'Leads hand it out.' } },
        ),
      );
    }
    dataOf(await gql(server.url, server.adminKey, FEED, { groupId: group.id, issuer: CORP }));
    const judy = await person();
    const key = await createKey(server, judy.id);
    const token = await tokenOf(judy.sub, { groups: [externalId] });
    await groupsOf(token);
    const report = await createIdentity(server, { kind: 'USER' });
    const GRANT = 'mutation($input: GrantInput!) { grant(input: $input) { id } }';
    // What a token confers ends with the token, so does what is delegated through it.
    const input = { identityId: report.id, scope, reason: 'Joins the project.', ttlSeconds: 60 };

    expectError(await gql(server.url, key.secret, GRANT, { input }), 'FORBIDDEN', 'grants:write');
    dataOf(await gql(server.url, token, GRANT, { input }));
    expect(await allowed(server.adminKey, report.id, scope)).toBe(true);
  });

  describe('escalation through the claim', () => {
    it("should not let another issuer's token join a group fed by the first", async () => {
      const admins = await fedGroup(CORP);
      const mallory = await person(OTHER);
      const token = await tokenOf(
        mallory.sub,
        { roles: [admins.externalId], groups: [admins.externalId] },
        OTHER,
      );

      const mine = await groupsOf(token);

      expect(mine.me.groups).toEqual([]);
      expect(await allowed(token, mallory.id, admins.scope)).toBe(false);
    });

    it('should not let a token join a group nobody let its issuer feed', async () => {
      const scimGroup = await fedGroup(null);
      const eve = await person();
      const token = await tokenOf(eve.sub, { groups: [scimGroup.externalId] });

      expect((await groupsOf(token)).me.groups).toEqual([]);
      expect(await allowed(token, eve.id, scimGroup.scope)).toBe(false);
    });

    it('should refuse to let tokens feed a group that confers a requiresApproval scope', async () => {
      const group = await fedGroup(null);
      await gql(
        server.url,
        server.adminKey,
        'mutation($scope: String!) { setScopePolicy(scope: $scope, input: { requiresApproval: true }) { name } }',
        { scope: group.scope },
      );

      const response = await gql(server.url, server.adminKey, FEED, {
        groupId: group.id,
        issuer: CORP,
      });

      expectError(response, 'FORBIDDEN', 'requires approval');
    });

    it('should not join by token once the group confers a scope that requires approval', async () => {
      const group = await fedGroup();
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($scope: String!) { setScopePolicy(scope: $scope, input: { requiresApproval: true }) { name } }',
          { scope: group.scope },
        ),
      );
      const carol = await person();
      const token = await tokenOf(carol.sub, { groups: [group.externalId] });

      expect((await groupsOf(token)).me.groups).toEqual([]);
      expect(await allowed(token, carol.id, group.scope)).toBe(false);
    });

    it('should refuse a token whose claim has 10,000 values on both transports, writing nothing', async () => {
      const group = await fedGroup();
      const dave = await person();
      const values = Array.from({ length: 10_000 }, (_, i) => `g-${i}`);
      values.push(group.externalId);
      const token = await tokenOf(dave.sub, { groups: values });
      const before = await countRows(server, 'group_members');

      // Such a token outgrows HTTP's header limit and a WebSocket message; both refuse it unread.
      const http = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: MY_GROUPS }),
      });
      const client = openWsClient(server.url, bearer(token));
      const closed = await within(client.closed, 10_000, 'the refusal');

      expect(http.status).toBe(431);
      expect(closed.code).toBe(1009);
      expect(await countRows(server, 'group_members')).toBe(before);
    });

    it('should refuse a claim of more than 1,000 values over HTTP, naming the bound', async () => {
      const erin = await person();
      const token = await tokenOf(erin.sub, {
        groups: Array.from({ length: 1001 }, (_, i) => `${i}`),
      });

      const response = await gql(server.url, token, MY_GROUPS);

      const error = expectUnauthenticated(response, 'more than 1000');
      expect(error.extensions?.reason).toBe('GROUPS_CLAIM_INVALID');
    });

    it('should refuse a claim that is not a list of strings', async () => {
      const frank = await person();
      const token = await tokenOf(frank.sub, { groups: { admin: true } });

      expectUnauthenticated(await gql(server.url, token, MY_GROUPS), 'list of group ids');
    });

    it('should refuse a manager feeding a group that confers more than they hold grantable', async () => {
      const group = await fedGroup(null);
      const manager = await identityWithGrants(server, [
        { scope: 'groups:write', resource: group.name },
      ]);

      const response = await gql(server.url, manager.key, FEED, {
        groupId: group.id,
        issuer: CORP,
      });

      expectError(response, 'FORBIDDEN', 'requires holding grantable everything its grants confer');
    });

    it('should refuse to let an issuer feed a group unless this server trusts it and reads its groups', async () => {
      const group = await fedGroup(null);

      expectError(
        await gql(server.url, server.adminKey, FEED, {
          groupId: group.id,
          issuer: 'https://sso.corp.test/',
        }),
        'BAD_USER_INPUT',
        `Issuer "https://sso.corp.test/" is not in this server's OIDC_ISSUERS (configured: "${CORP}"`,
      );
      expectError(
        await gql(server.url, server.adminKey, FEED, { groupId: group.id, issuer: NO_GROUPS }),
        'BAD_USER_INPUT',
        'reads no groups claim',
      );
      const events = await eventsAbout(group.id);
      expect(events.map((e) => e.action)).not.toContain('group.token_feed_changed');
    });

    it('should refuse a group without externalId, and a caller who does not manage it', async () => {
      const bare = dataOf(
        await gql(server.url, server.adminKey, CREATE_GROUP, { input: { name: unique('bare') } }),
      ).createGroup as { id: string };
      expectError(
        await gql(server.url, server.adminKey, FEED, { groupId: bare.id, issuer: CORP }),
        'BAD_USER_INPUT',
        'has no externalId',
      );
      const group = await fedGroup(null);
      const stranger = await identityWithGrants(server, []);
      expectError(
        await gql(server.url, stranger.key, FEED, { groupId: group.id, issuer: CORP }),
        'FORBIDDEN',
        'groups:write',
      );
    });
  });

  it('should end every token membership when the group stops being fed, and leave manual ones', async () => {
    const group = await fedGroup();
    const grace = await person();
    const heidi = await person();
    await gql(server.url, server.adminKey, ADD, {
      input: { groupId: group.id, identityIds: [heidi.id], reason: 'Added by hand.' },
    });
    const graceToken = await tokenOf(grace.sub, { groups: [group.externalId] });
    await groupsOf(graceToken);
    expect(await allowed(graceToken, grace.id, group.scope)).toBe(true);

    const stopped = dataOf(
      await gql(server.url, server.adminKey, FEED, { groupId: group.id, issuer: null }),
    ).setGroupTokenIssuer as { tokenIssuer: string | null };

    expect(stopped.tokenIssuer).toBeNull();
    expect(await allowed(graceToken, grace.id, group.scope)).toBe(false);
    expect(await allowed(server.adminKey, heidi.id, group.scope)).toBe(true);
    const events = await eventsAbout(group.id);
    expect(events.map((e) => e.action)).toContain('group.token_feed_changed');
  });

  it('should not count a token membership as a root holder: it ends with its token', async () => {
    // The group holds its scope grantable on every resource; once the admin's own grant of it is
    // revoked, the token member is the scope's only root holder.
    const externalId = unique('idp-roots');
    const group = dataOf(
      await gql(server.url, server.adminKey, CREATE_GROUP, {
        input: { name: unique('roots'), externalId },
      }),
    ).createGroup as { id: string; name: string };
    const scope = await defineScope(server);
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($input: GrantInput!) { grant(input: $input) { id } }',
        { input: { groupId: group.id, scope, grantable: true, reason: 'Owns it.' } },
      ),
    );
    dataOf(await gql(server.url, server.adminKey, FEED, { groupId: group.id, issuer: CORP }));
    const root = await person();
    await groupsOf(await tokenOf(root.sub, { groups: [externalId] }));
    const own = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'query($scope: String!) { grants(first: 5, filter: { scope: $scope }) { nodes { id identity { id } } } }',
        { scope },
      ),
    ).grants as { nodes: { id: string; identity: { id: string } | null }[] };
    const [adminRoot] = own.nodes.filter((n) => n.identity !== null);

    // A token membership ends with its token: it is nobody's safety net, so the admin's own
    // grant stays the last root holder and cannot be revoked.
    expectError(
      await gql(
        server.url,
        server.adminKey,
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Handed over.") { id } }',
        { id: adminRoot?.id },
      ),
      'CONFLICT',
      'would leave no active identity holding',
    );
  });

  it('should add the memberships of a subject seen for the first time on that very request', async () => {
    const group = await fedGroup(OTHER);
    const token = await tokenOf(unique('newcomer'), { roles: [group.externalId] }, OTHER);

    const mine = await groupsOf(token);

    expect(mine.me.groups.map((g) => [g.name, g.source])).toEqual([[group.name, 'TOKEN']]);
    expect(await allowed(token, mine.me.id, group.scope)).toBe(true);
  });
});

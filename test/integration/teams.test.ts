import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { defineScope, identityWithGrants, type SeededPrincipal, unique } from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const CREATE_GROUP = `mutation($input: CreateGroupInput!) { createGroup(input: $input) { id name } }`;
const ADD = `mutation($input: AddGroupMembersInput!) { addGroupMembers(input: $input) { id } }`;
const REMOVE = `mutation($input: RemoveGroupMembersInput!) { removeGroupMembers(input: $input) { id } }`;
const DELETE_GROUP =
  'mutation($id: ID!) { deleteGroup(id: $id, reason: "Team disbanded.") { id } }';
const DEFINE_ROLE = `mutation($input: DefineRoleInput!) { defineRole(input: $input) { name scopes { scope resource } } }`;
const SET_ROLE = `mutation($role: String!, $scopes: [RoleScopeInput!]!) {
  setRoleScopes(role: $role, scopes: $scopes, reason: "Reorganised.") { name scopes { scope resource } }
}`;
const GRANT = `mutation($input: GrantInput!) { grant(input: $input) { id role { name } group { name } scope { name } } }`;
const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) {
    allowed reason path { grantId role groups membershipId }
  }
}`;

describe.each(engines())('teams: groups and roles on %s', (engine) => {
  let server: TestServer;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = server.adminKey;
  });

  afterAll(async () => {
    await server?.stop();
  });

  const createGroup = async (name = unique('team'), key = admin) =>
    dataOf(await gql(server.url, key, CREATE_GROUP, { input: { name } })).createGroup as {
      id: string;
      name: string;
    };

  const add = (
    groupId: string,
    members: { identityIds?: string[]; groupIds?: string[] },
    key = admin,
    more: Record<string, unknown> = {},
  ) => gql(server.url, key, ADD, { input: { groupId, ...members, reason: 'Joined.', ...more } });

  const remove = (groupId: string, identityIds: string[], key = admin) =>
    gql(server.url, key, REMOVE, { input: { groupId, identityIds, reason: 'Left.' } });

  const check = async (identityId: string, scope: string, resource?: string) =>
    dataOf(await gql(server.url, admin, CHECK, { id: identityId, scope, resource })).check as {
      allowed: boolean;
      reason: string;
      path: {
        grantId: string;
        role: string | null;
        groups: string[];
        membershipId: string | null;
      } | null;
    };

  const defineRole = async (
    scopes: { scope: string; resource?: string }[],
    name = unique('role'),
  ) => {
    dataOf(await gql(server.url, admin, DEFINE_ROLE, { input: { name, scopes } }));
    return name;
  };

  const member = () => identityWithGrants(server, [], { kind: 'USER' });

  describe('groups', () => {
    it('should let a grant to a group authorize its members, name the path, and stop at removal', async () => {
      const scope = await defineScope(server);
      const group = await createGroup();
      const alice = await member();
      dataOf(await add(group.id, { identityIds: [alice.id] }));
      const made = dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: group.id, scope, reason: 'The team needs it.' },
        }),
      ).grant as { id: string; group: { name: string } };

      const allowed = await check(alice.id, scope, 'inv-1');
      expect(allowed).toMatchObject({
        allowed: true,
        path: { grantId: made.id, role: null, groups: [group.name] },
      });
      expect(allowed.reason).toContain(`to group "${group.name}" (member since`);
      expect(allowed.reason).toContain('added by "bootstrap-admin"');

      dataOf(await remove(group.id, [alice.id]));

      expect((await check(alice.id, scope)).allowed).toBe(false);
    });

    it('should reach the members of nested groups, and show the path on Identity.groups', async () => {
      const scope = await defineScope(server);
      const parent = await createGroup();
      const child = await createGroup();
      const bob = await member();
      dataOf(await add(child.id, { identityIds: [bob.id] }));
      dataOf(await add(parent.id, { groupIds: [child.id] }));
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: parent.id, scope, reason: 'Parent team.' },
        }),
      );

      expect(await check(bob.id, scope)).toMatchObject({
        allowed: true,
        path: { groups: [child.name, parent.name] },
      });
      const mine = dataOf(await gql(server.url, bob.key, '{ me { groups { name direct path } } }'));
      expect((mine.me as { groups: unknown[] }).groups).toEqual(
        expect.arrayContaining([
          { name: child.name, direct: true, path: [child.name] },
          { name: parent.name, direct: false, path: [child.name, parent.name] },
        ]),
      );
    });

    it('should refuse a cycle with CONFLICT and nesting deeper than 8 with BAD_USER_INPUT, changing nothing', async () => {
      const chain = [];
      for (let i = 0; i < 8; i++) chain.push(await createGroup());
      for (let i = 0; i < 7; i++) {
        dataOf(
          await add((chain[i + 1] as { id: string }).id, {
            groupIds: [(chain[i] as { id: string }).id],
          }),
        );
      }
      const first = chain[0] as { id: string };
      const last = chain[7] as { id: string };
      const deeper = await createGroup();
      const before = await snapshot(server);

      expectError(await add(first.id, { groupIds: [last.id] }), 'CONFLICT', 'would make a cycle');
      expectError(
        await add(deeper.id, { groupIds: [last.id] }),
        'BAD_USER_INPUT',
        'groups nest at most 8 deep',
      );
      expect(await snapshot(server)).toEqual(before);
    });

    it('should end a temporary membership exactly at its expiry', async () => {
      const scope = await defineScope(server);
      const group = await createGroup();
      const carol = await member();
      await gql(server.url, admin, GRANT, { input: { groupId: group.id, scope, reason: 'Team.' } });
      dataOf(await add(group.id, { identityIds: [carol.id] }, admin, { ttlSeconds: 1 }));

      expect((await check(carol.id, scope)).allowed).toBe(true);
      await expectEventually(
        async () => (await check(carol.id, scope)).allowed,
        (allowed) => !allowed,
        'the membership to end',
      );
    });

    it('should end its grants and memberships when the group is deleted', async () => {
      const scope = await defineScope(server);
      const group = await createGroup();
      const dave = await member();
      dataOf(await add(group.id, { identityIds: [dave.id] }));
      await gql(server.url, admin, GRANT, { input: { groupId: group.id, scope, reason: 'Team.' } });

      dataOf(await gql(server.url, admin, DELETE_GROUP, { id: group.id }));

      expect((await check(dave.id, scope)).allowed).toBe(false);
      const after = dataOf(
        await gql(
          server.url,
          admin,
          `query($id: ID!) { group(id: $id) { grants(active: true) { id } } }`,
          {
            id: group.id,
          },
        ),
      );
      expect((after.group as { grants: unknown[] }).grants).toEqual([]);
    });
    it("should list a group's grants by filter and record its grants' expiry with the group", async () => {
      const scope = await defineScope(server);
      const team = await createGroup();
      const made = dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: team.id, scope, reason: 'Short.', ttlSeconds: 1 },
        }),
      ).grant as { id: string };

      const listed = dataOf(
        await gql(
          server.url,
          admin,
          'query($g: ID!) { grants(filter: { groupId: $g }) { nodes { id } } }',
          {
            g: team.id,
          },
        ),
      );
      expect((listed.grants as { nodes: unknown[] }).nodes).toEqual([{ id: made.id }]);
      const expired = await expectEventually(
        async () =>
          server.database.query<{ details: { before: Record<string, unknown>; scopes: string[] } }>(
            `select details from audit_events where action = 'grant.expired' and subject_id = $1`,
            [made.id],
          ),
        (rows) => rows.length === 1,
        'the grant.expired event',
      );
      expect(expired[0]?.details.before).toMatchObject({ groupId: team.id, scope });
      expect(expired[0]?.details.scopes).toEqual([scope]);
    });
  });

  describe('roles', () => {
    it('should give every scope of a role to a group member, and take one away when the role narrows', async () => {
      const [a, b, c] = [
        await defineScope(server),
        await defineScope(server),
        await defineScope(server),
      ];
      const role = await defineRole([
        { scope: a },
        { scope: b },
        { scope: c as string, resource: 'eu-*' },
      ]);
      const group = await createGroup();
      const erin = await member();
      dataOf(await add(group.id, { identityIds: [erin.id] }));
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: group.id, role, reason: 'On call.' },
        }),
      );

      expect((await check(erin.id, a as string)).allowed).toBe(true);
      expect((await check(erin.id, c as string, 'eu-1')).allowed).toBe(true);
      expect((await check(erin.id, c as string, 'us-1')).allowed).toBe(false);
      const viaRole = await check(erin.id, b as string);
      expect(viaRole.path).toMatchObject({ role, groups: [group.name] });
      expect(viaRole.reason).toContain(`of role "${role}"`);

      dataOf(await gql(server.url, admin, SET_ROLE, { role, scopes: [{ scope: a }] }));

      expect((await check(erin.id, b as string)).allowed).toBe(false);
      expect((await check(erin.id, a as string)).allowed).toBe(true);
    });
  });

  describe('escalations through groups and roles', () => {
    let manager: SeededPrincipal;
    let payroll: string;
    let group: { id: string; name: string };

    beforeAll(async () => {
      payroll = await defineScope(server);
      group = await createGroup(unique('payroll-team'));
      await gql(server.url, admin, GRANT, {
        input: { groupId: group.id, scope: payroll, reason: 'Payroll team.' },
      });
      manager = await identityWithGrants(
        server,
        [{ scope: 'groups:write', resource: group.name }, 'groups:read'],
        { kind: 'USER' },
      );
    });

    it('should refuse adding yourself to a group, changing nothing', async () => {
      const before = await snapshot(server);

      expectError(
        await add(group.id, { identityIds: [manager.id] }, manager.key),
        'FORBIDDEN',
        'Nobody adds themselves to a group',
      );
      expect(await snapshot(server)).toEqual(before);
    });

    it('should refuse a manager adding a member to a group that confers more than the manager holds grantable', async () => {
      const outsider = await member();

      const response = await add(group.id, { identityIds: [outsider.id] }, manager.key);

      expectError(response, 'FORBIDDEN', `requires holding grantable everything its grants confer`);
      expect((await check(outsider.id, payroll)).allowed).toBe(false);
    });

    it('should let a manager who holds it all grantable add a member, for no longer than that', async () => {
      const holder = await identityWithGrants(
        server,
        [
          { scope: 'groups:write', resource: group.name },
          { scope: 'groups:read', resource: group.name },
          { scope: payroll, grantable: true, ttlSeconds: 3600 },
        ],
        { kind: 'USER' },
      );
      const newcomer = await member();

      expectError(
        await add(group.id, { identityIds: [newcomer.id] }, holder.key),
        'FORBIDDEN',
        'This membership would outlive your own grant',
      );
      dataOf(await add(group.id, { identityIds: [newcomer.id] }, holder.key, { ttlSeconds: 600 }));

      expect((await check(newcomer.id, payroll)).allowed).toBe(true);
    });

    it('should refuse a manager of one group touching another', async () => {
      const other = await createGroup();
      const someone = await member();

      expectError(
        await add(other.id, { identityIds: [someone.id] }, manager.key),
        'FORBIDDEN',
        `needs the scope "groups:write" on group "${other.name}"`,
      );
    });

    it('should refuse widening a role to a scope its editor does not hold grantable', async () => {
      const role = await defineRole([]);
      const editor = await identityWithGrants(server, ['roles:write', 'roles:read'], {
        kind: 'USER',
      });

      expectError(
        await gql(server.url, editor.key, SET_ROLE, { role, scopes: [{ scope: payroll }] }),
        'FORBIDDEN',
        `Adding "${payroll}" on every resource to role "${role}"`,
      );
    });

    it('should refuse granting a role whose scopes the granter does not all hold grantable', async () => {
      const other = await defineScope(server);
      const role = await defineRole([{ scope: payroll }, { scope: other }]);
      const granter = await identityWithGrants(
        server,
        ['grants:write', 'grants:read', { scope: payroll, grantable: true }],
        { kind: 'USER' },
      );
      const target = await member();

      expectError(
        await gql(server.url, granter.key, GRANT, {
          input: { identityId: target.id, role, reason: 'Try.' },
        }),
        'FORBIDDEN',
        `you do not hold "${other}"`,
      );
    });

    it('should refuse a requiresApproval scope through a role grant and through a membership', async () => {
      const guarded = await defineScope(server);
      const team = await createGroup();
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: team.id, scope: guarded, reason: 'Before the policy.' },
        }),
      );
      dataOf(
        await gql(
          server.url,
          admin,
          `mutation($scope: String!) { setScopePolicy(scope: $scope, input: { requiresApproval: true }) { name } }`,
          { scope: guarded },
        ),
      );
      const role = await defineRole([{ scope: guarded }]);
      const target = await member();

      expectError(
        await gql(server.url, admin, GRANT, {
          input: { identityId: target.id, role, reason: 'Try.' },
        }),
        'FORBIDDEN',
        `Role "${role}" confers "${guarded}", which requires approval`,
      );
      expectError(
        await add(team.id, { identityIds: [target.id] }),
        'FORBIDDEN',
        `Group "${team.name}" confers "${guarded}", which requires approval`,
      );
    });

    it('should refuse granting to a group you belong to', async () => {
      const scope = await defineScope(server);
      const team = await createGroup();
      const granter = await identityWithGrants(
        server,
        ['grants:write', 'grants:read', { scope, grantable: true }],
        { kind: 'USER' },
      );
      dataOf(await add(team.id, { identityIds: [granter.id] }));

      expectError(
        await gql(server.url, granter.key, GRANT, {
          input: { groupId: team.id, scope, reason: 'Me.' },
        }),
        'FORBIDDEN',
        'a grant to it would be a grant to yourself',
      );
    });
  });

  describe('whoCan through teams', () => {
    const WHO_CAN = `query($scope: String!, $resource: String, $first: Int, $after: String) {
      whoCan(scope: $scope, resource: $resource, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { identityId grant { id } path { grantId role groups membershipId } expiresAt }
      }
    }`;
    interface HolderPage {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      nodes: {
        identityId: string;
        grant: { id: string };
        path: {
          grantId: string;
          role: string | null;
          groups: string[];
          membershipId: string | null;
        };
        expiresAt: string | null;
      }[];
    }
    const whoCan = async (vars: Record<string, unknown>) =>
      dataOf(await gql<{ whoCan: HolderPage }>(server.url, admin, WHO_CAN, vars)).whoCan;

    it('should list direct holders, members of nested groups and role holders with their paths, and only them', async () => {
      const scope = await defineScope(server);
      const other = await defineScope(server);
      const role = await defineRole([{ scope, resource: 'eu-*' }, { scope: other }]);
      const parent = await createGroup();
      const child = await createGroup();
      const direct = await identityWithGrants(server, [{ scope, resource: 'eu-1' }], {
        kind: 'USER',
      });
      const nested = await member();
      const roleHolder = await member();
      const outsider = await member();
      const leaver = await member();
      dataOf(await add(child.id, { identityIds: [nested.id, leaver.id] }));
      dataOf(await add(parent.id, { groupIds: [child.id] }));
      const groupGrant = dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: parent.id, scope, reason: 'Parent team.' },
        }),
      ).grant as { id: string };
      const roleGrant = dataOf(
        await gql(server.url, admin, GRANT, {
          input: { identityId: roleHolder.id, role, reason: 'On call.' },
        }),
      ).grant as { id: string };
      // A role grant narrowed to a resource the role's scope does not reach confers nothing there.
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { identityId: outsider.id, role, resource: 'us-*', reason: 'US on call.' },
        }),
      );
      dataOf(await remove(child.id, [leaver.id]));

      const page = await whoCan({ scope, resource: 'eu-1' });

      const byIdentity = new Map(page.nodes.map((n) => [n.identityId, n]));
      expect(byIdentity.get(direct.id)?.path).toMatchObject({ role: null, groups: [] });
      expect(byIdentity.get(nested.id)?.path).toMatchObject({
        grantId: groupGrant.id,
        role: null,
        groups: [child.name, parent.name],
      });
      expect(byIdentity.get(nested.id)?.path.membershipId).not.toBeNull();
      expect(byIdentity.get(roleHolder.id)?.path).toMatchObject({
        grantId: roleGrant.id,
        role,
        groups: [],
      });
      expect(byIdentity.has(outsider.id)).toBe(false);
      expect(byIdentity.has(leaver.id)).toBe(false);
      expect(page.totalCount).toBe(page.nodes.length);
      // Outside the role's resources, the role holder is not listed; the group's members are.
      const us = await whoCan({ scope, resource: 'us-1' });
      expect(us.nodes.map((n) => n.identityId)).not.toContain(roleHolder.id);
      expect(us.nodes.map((n) => n.identityId)).toContain(nested.id);
    });

    it('should list an owned agent in a group only while its owner can use the same', async () => {
      const scope = await defineScope(server);
      const group = await createGroup();
      const owner = await member();
      const agent = await identityWithGrants(server, [], { kind: 'AGENT', ownerId: owner.id });
      dataOf(await add(group.id, { identityIds: [agent.id] }));
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: group.id, scope, reason: 'Agents of the team.' },
        }),
      );

      expect((await whoCan({ scope })).nodes.map((n) => n.identityId)).not.toContain(agent.id);

      dataOf(await add(group.id, { identityIds: [owner.id] }));

      expect((await whoCan({ scope })).nodes.map((n) => n.identityId)).toEqual(
        expect.arrayContaining([owner.id, agent.id]),
      );
    });

    it('should page through every holder exactly once, in order, with the total on every page', async () => {
      const scope = await defineScope(server);
      const group = await createGroup();
      const people = [];
      for (let i = 0; i < 7; i++) people.push(await member());
      dataOf(await add(group.id, { identityIds: people.map((p) => p.id) }));
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: group.id, scope, reason: 'Team.' },
        }),
      );
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const page: HolderPage = await whoCan({ scope, first: 3, after });
        expect(page.totalCount).toBe(8); // the 7 members and the admin that defined the scope
        seen.push(...page.nodes.map((n) => n.identityId));
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
        pages += 1;
      } while (after !== null);

      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(8);
      expect(seen).toEqual([...seen].sort());
      expect(seen).toEqual(expect.arrayContaining([...people.map((p) => p.id), server.adminId]));
      expectError(
        await gql(server.url, admin, WHO_CAN, { scope, after: 'not-a-cursor' }),
        'BAD_USER_INPUT',
        'cursor',
      );
      expectError(
        await gql(server.url, admin, WHO_CAN, { scope, first: 501 }),
        'BAD_USER_INPUT',
        'first',
      );
    });
  });

  describe('asking to join a group (requestAccess)', () => {
    const REQUEST = `mutation($input: RequestAccessInput!) {
      requestAccess(input: $input) { id status scope { name } groupId }
    }`;
    const APPROVE = `mutation($id: ID!) {
      approveAccessRequest(id: $id, reason: "Welcome.") {
        id status groupId membership { id source expiresAt addedBy { id } }
      }
    }`;
    const DENY = `mutation($id: ID!) { denyAccessRequest(id: $id, reason: "No.") { id status } }`;
    const AWAITING = '{ accessRequestsAwaitingMyApproval { id groupId } }';

    /** A group conferring `scope`, and its manager: groups:write on it, `scope` grantable. */
    const managedTeam = async (scope: string, managerHoldsScope = true) => {
      const team = await createGroup();
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: team.id, scope, reason: 'The team needs it.' },
        }),
      );
      const manager = await identityWithGrants(
        server,
        [
          { scope: 'groups:write', resource: team.name },
          ...(managerHoldsScope ? [{ scope, grantable: true }] : []),
        ],
        { kind: 'USER' },
      );
      return { team, manager };
    };
    const ask = (key: string, groupId: string, more: Record<string, unknown> = {}) =>
      gql(server.url, key, REQUEST, {
        input: { groupId, ttlSeconds: 3600, reason: 'On call next week.', ...more },
      });

    it("should let a person ask, and the group's manager approve: a temporary membership that authorizes at once", async () => {
      const scope = await defineScope(server);
      const { team, manager } = await managedTeam(scope);
      const person = await member();

      const request = dataOf(await ask(person.key, team.id)).requestAccess as {
        id: string;
        status: string;
        scope: null;
        groupId: string;
      };
      expect(request).toMatchObject({ status: 'PENDING', scope: null, groupId: team.id });
      const awaiting = dataOf(await gql(server.url, manager.key, AWAITING))
        .accessRequestsAwaitingMyApproval as { id: string }[];
      expect(awaiting.map((r) => r.id)).toContain(request.id);
      expect((await check(person.id, scope)).allowed).toBe(false);

      const approved = dataOf(await gql(server.url, manager.key, APPROVE, { id: request.id }))
        .approveAccessRequest as {
        status: string;
        membership: { id: string; source: string; expiresAt: string; addedBy: { id: string } };
      };

      expect(approved).toMatchObject({
        status: 'APPROVED',
        membership: { source: 'MANUAL', addedBy: { id: manager.id } },
      });
      const lasts = Date.parse(approved.membership.expiresAt) - Date.now();
      expect(lasts).toBeGreaterThan(3500_000);
      expect(lasts).toBeLessThanOrEqual(3600_000);
      expect(await check(person.id, scope)).toMatchObject({
        allowed: true,
        path: { groups: [team.name], membershipId: approved.membership.id },
      });
    });

    it('should refuse the requester, a manager who does not hold grantable what the group confers, and a manager of another group, changing nothing', async () => {
      const scope = await defineScope(server);
      const { team, manager } = await managedTeam(scope, false);
      const other = await managedTeam(scope);
      const person = await identityWithGrants(
        server,
        [{ scope: 'groups:write', resource: team.name }],
        { kind: 'USER' },
      );
      const request = dataOf(await ask(person.key, team.id)).requestAccess as { id: string };

      expectError(
        await gql(server.url, person.key, APPROVE, { id: request.id }),
        'FORBIDDEN',
        'your own access request',
      );
      expectError(
        await gql(server.url, manager.key, APPROVE, { id: request.id }),
        'FORBIDDEN',
        `requires holding grantable everything its grants confer, and you do not hold "${scope}"`,
      );
      expectError(
        await gql(server.url, other.manager.key, APPROVE, { id: request.id }),
        'FORBIDDEN',
        `requires managing it`,
      );
      expect((await check(person.id, scope)).allowed).toBe(false);
      const still = dataOf(
        await gql(server.url, admin, '{ accessRequestsAwaitingMyApproval { id status } }'),
      ).accessRequestsAwaitingMyApproval as { id: string; status: string }[];
      expect(still.find((r) => r.id === request.id)?.status).toBe('PENDING');
      // A denial by the manager ends it.
      expect(
        dataOf(await gql(server.url, manager.key, DENY, { id: request.id })).denyAccessRequest,
      ).toMatchObject({ status: 'DENIED' });
    });

    it('should let a group conferring a requiresApproval scope be joined through an approved request only, within its maxTtlSeconds', async () => {
      const guarded = await defineScope(server);
      const { team, manager } = await managedTeam(guarded);
      dataOf(
        await gql(
          server.url,
          admin,
          `mutation($scope: String!) { setScopePolicy(scope: $scope, input: { requiresApproval: true, maxTtlSeconds: 600 }) { name } }`,
          { scope: guarded },
        ),
      );
      const person = await member();
      expectError(
        await add(team.id, { identityIds: [person.id] }, manager.key),
        'FORBIDDEN',
        'requires approval',
      );
      const tooLong = dataOf(await ask(person.key, team.id)).requestAccess as { id: string };
      expectError(
        await gql(server.url, manager.key, APPROVE, { id: tooLong.id }),
        'BAD_USER_INPUT',
        '600',
      );
      dataOf(await gql(server.url, manager.key, DENY, { id: tooLong.id }));

      const request = dataOf(await ask(person.key, team.id, { ttlSeconds: 300 })).requestAccess as {
        id: string;
      };
      dataOf(await gql(server.url, manager.key, APPROVE, { id: request.id }));

      expect((await check(person.id, guarded)).allowed).toBe(true);
    });

    it('should refuse malformed requests with BAD_USER_INPUT and repeated ones with CONFLICT', async () => {
      const scope = await defineScope(server);
      const { team } = await managedTeam(scope);
      const person = await member();

      expectError(await ask(person.key, team.id, { scope }), 'BAD_USER_INPUT', 'exactly one');
      expectError(
        await ask(person.key, team.id, { resource: 'eu-1' }),
        'BAD_USER_INPUT',
        'names no resource',
      );
      expectError(
        await ask(person.key, '00000000-0000-4000-8000-000000000000'),
        'NOT_FOUND',
        'does not exist',
      );
      dataOf(await ask(person.key, team.id));
      expectError(await ask(person.key, team.id), 'CONFLICT', 'already has a pending request');
      const inside = await member();
      dataOf(await add(team.id, { identityIds: [inside.id] }));
      expectError(await ask(inside.key, team.id), 'CONFLICT', 'already a member');
    });
  });

  describe('no lockout through groups', () => {
    it('should count a holder through a group, and refuse removing the last path', async () => {
      const team = await createGroup();
      const deputy = await identityWithGrants(server, [], { kind: 'USER' });
      dataOf(await add(team.id, { identityIds: [deputy.id] }));
      dataOf(
        await gql(server.url, admin, GRANT, {
          input: { groupId: team.id, scope: 'audit:read', grantable: true, reason: 'Deputies.' },
        }),
      );
      const own = dataOf(
        await gql(server.url, admin, '{ me { grants { id scope { name } } } }'),
      ) as {
        me: { grants: { id: string; scope: { name: string } | null }[] };
      };
      const adminAudit = own.me.grants.find((g) => g.scope?.name === 'audit:read');
      dataOf(
        await gql(
          server.url,
          admin,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Handing over.") { id } }',
          {
            id: adminAudit?.id,
          },
        ),
      );

      expectError(await remove(team.id, [deputy.id]), 'CONFLICT', '"audit:read"');
      expect((await check(deputy.id, 'audit:read')).allowed).toBe(true);
    });
  });

  describe('lifecycle', () => {
    it('should end memberships on revokeAllGrants and on disableIdentity', async () => {
      const scope = await defineScope(server);
      const team = await createGroup();
      await gql(server.url, admin, GRANT, { input: { groupId: team.id, scope, reason: 'Team.' } });
      const [frank, grace] = [await member(), await member()];
      dataOf(await add(team.id, { identityIds: [frank.id, grace.id] }));

      const revoked = dataOf(
        await gql(
          server.url,
          admin,
          'mutation($id: ID!) { revokeAllGrants(identityId: $id, reason: "Left.") { membershipIds } }',
          { id: frank.id },
        ),
      );
      dataOf(
        await gql(server.url, admin, 'mutation($id: ID!) { disableIdentity(id: $id) { id } }', {
          id: grace.id,
        }),
      );

      expect((revoked.revokeAllGrants as { membershipIds: string[] }).membershipIds).toHaveLength(
        1,
      );
      expect((await check(frank.id, scope)).allowed).toBe(false);
      const members = dataOf(
        await gql(
          server.url,
          admin,
          'query($id: ID!) { group(id: $id) { members { nodes { id } } } }',
          {
            id: team.id,
          },
        ),
      );
      expect((members.group as { members: { nodes: unknown[] } }).members.nodes).toEqual([]);
    });

    it('should enable a disabled identity with its keys still revoked', async () => {
      const henry = await identityWithGrants(server, [], { kind: 'USER' });
      dataOf(
        await gql(server.url, admin, 'mutation($id: ID!) { disableIdentity(id: $id) { id } }', {
          id: henry.id,
        }),
      );

      const enabled = dataOf(
        await gql(
          server.url,
          admin,
          'mutation($id: ID!) { enableIdentity(id: $id, reason: "Back from leave.") { status } }',
          { id: henry.id },
        ),
      );

      expect(enabled.enableIdentity).toEqual({ status: 'ACTIVE' });
      const response = await gql(server.url, henry.key, '{ me { id } }');
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});

describe.each(engines())('what teams cost a request on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    // No authentication cache: every request reads the caller's effective grants.
    server = await startTestServer(engine, { authenticationCacheSize: 0 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** The fewest statements of three identical requests (a background flush cannot count). */
  const statements = async (key: string, query: string) => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const before = server.database.statements.count;
      dataOf(await gql(server.url, key, query));
      counts.push(server.database.statements.count - before);
    }
    return Math.min(...counts);
  };

  it('should decide for a member of nested groups holding role grants in as many statements as for a direct holder', async () => {
    const scopes = [
      await defineScope(server),
      await defineScope(server),
      await defineScope(server),
    ];
    const direct = await identityWithGrants(server, scopes, { kind: 'USER' });
    const memberOf = await identityWithGrants(server, [], { kind: 'USER' });
    const role = unique('role');
    dataOf(
      await gql(server.url, server.adminKey, DEFINE_ROLE, {
        input: { name: role, scopes: scopes.map((scope) => ({ scope })) },
      }),
    );
    let inner: string | null = null;
    for (let depth = 0; depth < 3; depth += 1) {
      const group = dataOf(
        await gql(server.url, server.adminKey, CREATE_GROUP, { input: { name: unique('nest') } }),
      ).createGroup as { id: string };
      const members = inner === null ? { identityIds: [memberOf.id] } : { groupIds: [inner] };
      dataOf(
        await gql(server.url, server.adminKey, ADD, {
          input: { groupId: group.id, ...members, reason: 'Nested.' },
        }),
      );
      inner = group.id;
    }
    dataOf(
      await gql(server.url, server.adminKey, GRANT, {
        input: { groupId: inner, role, reason: 'Outermost team.' },
      }),
    );
    const query = (id: string) =>
      `{ check(identityId: "${id}", scope: "${scopes[2]}") { allowed reason } }`;

    const forDirect = await statements(direct.key, query(direct.id));
    const forMember = await statements(memberOf.key, query(memberOf.id));
    const answer = dataOf(await gql(server.url, memberOf.key, query(memberOf.id)));

    expect((answer.check as { allowed: boolean }).allowed).toBe(true);
    expect(forDirect).toBeGreaterThan(0);
    // The reason names the path: the membership, the groups and who added it, read once each.
    expect(forMember).toBeLessThanOrEqual(forDirect + 3);
    const allowedOnly = (id: string) =>
      `{ check(identityId: "${id}", scope: "${scopes[2]}") { allowed } }`;
    expect(await statements(memberOf.key, allowedOnly(memberOf.id))).toBe(
      await statements(direct.key, allowedOnly(direct.id)),
    );
  });
});

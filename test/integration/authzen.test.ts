import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { dataOf, firstError, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

interface AuthzenResponse {
  readonly status: number;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: specs read answers of many shapes
  readonly json: any;
  readonly headers: Headers;
}

async function authzen(
  url: string,
  key: string | null,
  path: string,
  body: unknown,
  init: { method?: string; contentType?: string; requestId?: string } = {},
): Promise<AuthzenResponse> {
  const headers: Record<string, string> = {
    'content-type': init.contentType ?? 'application/json',
  };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (init.requestId !== undefined) headers['x-request-id'] = init.requestId;
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? 'POST',
    headers,
    ...(init.method === 'GET'
      ? {}
      : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, text, json, headers: response.headers };
}

const evaluation = (subject: string, action: string, resource: string, properties?: object) => ({
  subject: { type: 'user', id: subject },
  action: { name: action },
  resource: { type: 'todo', id: resource, ...(properties ? { properties } : {}) },
});

// The AuthZEN working group's Todo application: its users (by their identity provider's ids),
// and which of them may do what. Rick is an admin, Morty and Summer editors (owner-only updates
// and deletes), Beth and Jerry viewers.
const TODO_USERS = [
  {
    name: 'rick',
    id: 'CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs',
    email: 'rick@the-citadel.com',
    team: 'admins',
  },
  {
    name: 'morty',
    id: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs',
    email: 'morty@the-citadel.com',
    team: 'editors',
  },
  {
    name: 'summer',
    id: 'CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs',
    email: 'summer@the-smiths.com',
    team: 'editors',
  },
  {
    name: 'beth',
    id: 'CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs',
    email: 'beth@the-smiths.com',
    team: 'viewers',
  },
  {
    name: 'jerry',
    id: 'CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs',
    email: 'jerry@the-smiths.com',
    team: 'viewers',
  },
] as const;

/** The interop scenario's decisions: reads and creates by role, updates and deletes by owner. */
function todoDecisions(): { request: ReturnType<typeof evaluation>; expected: boolean }[] {
  const cases: { request: ReturnType<typeof evaluation>; expected: boolean }[] = [];
  const todo = '7240d0db-8ff0-41ec-98b2-34a096273b9f';
  for (const user of TODO_USERS) {
    const editor = user.team !== 'viewers';
    for (const other of TODO_USERS) {
      cases.push({
        request: {
          ...evaluation(user.id, 'can_read_user', other.email),
          resource: { type: 'user', id: other.email },
        },
        expected: true,
      });
    }
    cases.push({ request: evaluation(user.id, 'can_read_todos', 'todo-1'), expected: true });
    cases.push({ request: evaluation(user.id, 'can_create_todo', 'todo-1'), expected: editor });
    for (const owner of [TODO_USERS[0].email, user.email]) {
      const mayChange = user.team === 'admins' || (editor && owner === user.email);
      for (const action of ['can_update_todo', 'can_delete_todo']) {
        cases.push({
          request: evaluation(user.id, action, todo, { ownerID: owner }),
          expected: mayChange,
        });
      }
    }
  }
  return cases;
}

async function run(server: TestServer, query: string, variables?: Record<string, unknown>) {
  return dataOf(await gql(server.url, server.adminKey, query, variables));
}

/** The Todo application as Keyholder grants: scopes with the interop's action names as aliases. */
async function setUpTodoApplication(server: TestServer, prefix: string): Promise<void> {
  const scope = (suffix: string) => `${prefix}.${suffix}`;
  const define = (name: string, alias: string) =>
    run(
      server,
      'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name aliases } }',
      {
        input: { name, description: `Todo: ${alias}.`, aliases: [alias] },
      },
    );
  await define(scope('users:read'), 'can_read_user');
  await define(scope('todos:read'), 'can_read_todos');
  await define(scope('todos:write'), 'can_create_todo');
  await define(scope('todos/update:write'), 'can_update_todo');
  await define(scope('todos/delete:write'), 'can_delete_todo');
  const ids = new Map<string, string>();
  for (const user of TODO_USERS) {
    const identity = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        {
          input: {
            name: unique(user.name),
            kind: 'USER',
            externalId: user.id,
            attributes: { email: user.email },
          },
        },
      ),
    ).createIdentity as { id: string };
    ids.set(user.name, identity.id);
  }
  const viewer = [scope('users:read'), scope('todos:read')];
  const changes = [scope('todos/update:write'), scope('todos/delete:write')];
  for (const user of TODO_USERS) {
    const id = ids.get(user.name) as string;
    const held = user.team === 'viewers' ? viewer : [...viewer, scope('todos:write')];
    for (const name of held) await grant(server, id, { scope: name, reason: 'Todo role.' });
    if (user.team === 'viewers') continue;
    for (const name of changes) {
      await grant(server, id, {
        scope: name,
        reason: 'Todo role: changes.',
        ...(user.team === 'editors'
          ? { condition: 'properties.ownerID == identity.attributes.email' }
          : {}),
      });
    }
  }
}

describe.each(engines())('AuthZEN Authorization API on %s', (engine) => {
  let server: TestServer;
  let pep: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine, { accessLog: true, grantUsageFlushMs: 20 });
    pep = await identityWithGrants(server, ['decisions:execute'], { name: unique('gateway') });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('should pass the Todo interop scenario with grants, conditions and aliases', async () => {
    await setUpTodoApplication(server, unique('todo').replace('-', ''));
    const cases = todoDecisions();
    const answers: boolean[] = [];
    for (const { request } of cases) {
      const response = await authzen(server.url, pep.key, '/access/v1/evaluation', request);
      expect(response.status, response.text).toBe(200);
      answers.push(response.json.decision);
    }
    const wrong = cases.filter((c, i) => answers[i] !== c.expected).map((c) => c.request);
    expect(wrong).toEqual([]);
    expect(cases).toHaveLength(55);

    // The same decisions in one boxcarred request, in order.
    const batch = await authzen(server.url, pep.key, '/access/v1/evaluations', {
      evaluations: cases.map((c) => c.request),
    });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.json.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual(
      cases.map((c) => c.expected),
    );
  });

  it('should serve the metadata document without credentials', async () => {
    const response = await authzen(server.url, null, '/.well-known/authzen-configuration', null, {
      method: 'GET',
    });
    expect(response.status).toBe(200);
    const host = new URL(server.url).host;
    expect(response.json).toEqual({
      policy_decision_point: `http://${host}`,
      access_evaluation_endpoint: `http://${host}/access/v1/evaluation`,
      access_evaluations_endpoint: `http://${host}/access/v1/evaluations`,
      search_subject_endpoint: `http://${host}/access/v1/search/subject`,
      search_resource_endpoint: `http://${host}/access/v1/search/resource`,
      search_action_endpoint: `http://${host}/access/v1/search/action`,
    });
  });

  describe('with a subject holding an alias-named scope', () => {
    let scope: string;
    let alias: string;
    let subject: SeededPrincipal;
    let externalId: string;

    beforeAll(async () => {
      scope = `${unique('inv').replace('-', '')}:read`;
      alias = unique('can_read_invoice').replaceAll('-', '_');
      await run(
        server,
        'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
        {
          input: { name: scope, aliases: [alias] },
        },
      );
      externalId = unique('okta-user');
      const identity = await createIdentity(server, { kind: 'USER', externalId });
      const key = await createKey(server, identity.id);
      const held = await grant(server, identity.id, { scope, resource: 'inv-*' });
      subject = { ...identity, key: key.secret, keyId: key.id, grants: [held] };
    });

    it('should decide by externalId or Keyholder id, by scope name or alias, echoing x-request-id', async () => {
      for (const id of [externalId, subject.id]) {
        for (const action of [scope, alias]) {
          const allowed = await authzen(
            server.url,
            pep.key,
            '/access/v1/evaluation',
            evaluation(id, action, 'inv-42'),
            { requestId: 'req-123' },
          );
          expect(allowed.json).toEqual({ decision: true });
          expect(allowed.headers.get('x-request-id')).toBe('req-123');
        }
      }
      const denied = await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation(externalId, alias, 'other-1'),
      );
      expect(denied.status).toBe(200);
      expect(denied.json.decision).toBe(false);
      expect(denied.json.context.reason_admin.en).toContain('holds no active grant');
    });

    it('should deny, never fail, for an unknown subject, an unknown action and a disabled subject', async () => {
      const unknown = await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation('nobody@example.com', alias, 'inv-1'),
      );
      expect(unknown.status).toBe(200);
      expect(unknown.json.decision).toBe(false);
      expect(unknown.json.context.reason_admin.en).toContain('nobody@example.com');
      const action = await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation(externalId, 'can_fly', 'inv-1'),
      );
      expect(action.json).toMatchObject({ decision: false });
      expect(action.json.context.reason_admin.en).toContain('can_fly');

      const other = await createIdentity(server, { kind: 'USER', externalId: unique('gone') });
      await grant(server, other.id, { scope });
      await run(server, 'mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: other.id });
      const disabled = await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation(other.externalId as string, scope, 'inv-1'),
      );
      expect(disabled.json.decision).toBe(false);
      expect(disabled.json.context.reason_admin.en).toContain('disabled');
    });

    it('should honour each evaluations semantic', async () => {
      const items = [
        { resource: { type: 'invoice', id: 'inv-1' } },
        { resource: { type: 'invoice', id: 'other-2' } },
        { resource: { type: 'invoice', id: 'inv-3' } },
      ];
      const base = {
        subject: { type: 'user', id: externalId },
        action: { name: alias },
        evaluations: items,
      };
      const all = await authzen(server.url, pep.key, '/access/v1/evaluations', base);
      expect(all.json.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([
        true,
        false,
        true,
      ]);
      const denyFirst = await authzen(server.url, pep.key, '/access/v1/evaluations', {
        ...base,
        options: { evaluations_semantic: 'deny_on_first_deny' },
      });
      expect(denyFirst.json.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([
        true,
        false,
      ]);
      const permitFirst = await authzen(server.url, pep.key, '/access/v1/evaluations', {
        ...base,
        options: { evaluations_semantic: 'permit_on_first_permit' },
      });
      expect(permitFirst.json.evaluations).toEqual([{ decision: true }]);
    });

    it('should record each evaluation as an access event about the subject', async () => {
      await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation(externalId, alias, 'inv-audited'),
      );
      const events = await expectEventually(
        async () =>
          dataOf(
            await gql(
              server.url,
              server.adminKey,
              `query($f: AuditFilter) { auditEvents(first: 20, filter: $f) { nodes { action actor { id } subjectId details } } }`,
              { f: { subjectId: subject.id, action: 'access.' } },
            ),
          ).auditEvents.nodes as {
            action: string;
            actor: { id: string };
            subjectId: string;
            // biome-ignore lint/suspicious/noExplicitAny: an event's details vary by action
            details: any;
          }[],
        (nodes) => nodes.some((n) => JSON.stringify(n.details).includes('inv-audited')),
        'the access event of an AuthZEN evaluation',
      );
      const event = events.find((n) => JSON.stringify(n.details).includes('inv-audited'));
      expect(event).toMatchObject({
        action: 'access.allowed',
        actor: { id: pep.id },
        subjectId: subject.id,
      });
      expect(event?.details.operation).toMatchObject({ name: 'evaluation', type: 'authzen' });
      expect(event?.details.allowed[0].grantIds).toEqual([subject.grants[0]?.id]);
    });

    it('should count an allowing evaluation as a use of the grant', async () => {
      await authzen(
        server.url,
        pep.key,
        '/access/v1/evaluation',
        evaluation(externalId, alias, 'inv-7'),
      );
      await expectEventually(
        async () =>
          dataOf(
            await gql(
              server.url,
              server.adminKey,
              `query($id: ID!) { grants(filter: { identityId: $id }) { nodes { useCount } } }`,
              { id: subject.id },
            ),
          ).grants.nodes[0]?.useCount as number,
        (count) => count >= 1,
        'the use of the grant',
      );
    });

    it('should search subjects, resources and actions', async () => {
      const subjects = await authzen(server.url, pep.key, '/access/v1/search/subject', {
        subject: { type: 'user' },
        action: { name: alias },
        resource: { type: 'invoice', id: 'inv-9' },
      });
      expect(subjects.status, subjects.text).toBe(200);
      expect(subjects.json.results).toContainEqual({ type: 'user', id: externalId });
      expect(subjects.json.results).not.toContainEqual({ type: 'service', id: expect.anything() });
      expect(subjects.json.page).toEqual({ next_token: '' });

      const resources = await authzen(server.url, pep.key, '/access/v1/search/resource', {
        subject: { type: 'user', id: externalId },
        action: { name: alias },
        resource: { type: 'invoice' },
      });
      expect(resources.json).toEqual({
        results: [{ type: 'invoice', id: 'inv-*' }],
        page: { next_token: '' },
      });

      const actions = await authzen(server.url, pep.key, '/access/v1/search/action', {
        subject: { type: 'user', id: externalId },
        resource: { type: 'invoice', id: 'inv-9' },
      });
      expect(actions.json.results).toHaveLength(2);
      expect(actions.json.results).toEqual(
        expect.arrayContaining([{ name: scope }, { name: alias }]),
      );
      const none = await authzen(server.url, pep.key, '/access/v1/search/action', {
        subject: { type: 'user', id: externalId },
        resource: { type: 'invoice', id: 'other-9' },
      });
      expect(none.json.results).toEqual([]);
    });
  });

  it('should refuse callers without credentials, with a bad key, or without decisions:execute', async () => {
    const body = evaluation('x', 'a:read', 'r');
    const none = await authzen(server.url, null, '/access/v1/evaluation', body);
    expect(none.status).toBe(401);
    expect(none.text).toContain('Authorization');
    const bad = await authzen(server.url, 'kh_not_a_key', '/access/v1/evaluation', body);
    expect(bad.status).toBe(401);
    const weak = await identityWithGrants(server, []);
    const forbidden = await authzen(server.url, weak.key, '/access/v1/evaluations', {
      evaluations: [body],
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.text).toContain('decisions:execute');
    const badBody = await authzen(server.url, null, '/access/v1/evaluation', { subject: 1 });
    expect(badBody.status).toBe(401);
  });

  it('should refuse malformed bodies with 400 naming the field, and record nothing', async () => {
    // An enforcement point of its own, so no earlier spec's access event lands meanwhile.
    const pep = await identityWithGrants(server, ['decisions:execute']);
    const count = async () =>
      (
        await server.database.query<{ n: string }>(
          `select count(*)::text as n from audit_events where actor_id = $1`,
          [pep.id],
        )
      )[0]?.n;
    const before = await count();
    const cases: [unknown, string][] = [
      [{ action: { name: 'a:read' }, resource: { type: 't', id: '1' } }, 'subject is required'],
      [
        {
          subject: { type: 'user', id: 7 },
          action: { name: 'a:read' },
          resource: { type: 't', id: '1' },
        },
        'subject.id must be a string',
      ],
      [
        { subject: { type: 'user', id: 'u' }, action: {}, resource: { type: 't', id: '1' } },
        'action.name is required',
      ],
      [
        {
          subject: { type: 'user', id: 'u' },
          action: { name: 'a:read' },
          resource: { type: 't', id: '1', properties: [] },
        },
        'resource.properties must be a JSON object',
      ],
      [
        {
          subject: { type: 'user', id: 'u\ud800' },
          action: { name: 'a:read' },
          resource: { type: 't', id: '1' },
        },
        'subject.id',
      ],
      [
        {
          subject: { type: 'user', id: 'u' },
          action: { name: 'a:read' },
          resource: { type: 't', id: '1' },
          context: { ip: 'nope' },
        },
        'context.ip',
      ],
      [[1, 2], 'must be a JSON object'],
    ];
    for (const [body, message] of cases) {
      const response = await authzen(server.url, pep.key, '/access/v1/evaluation', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.text).toContain(message);
    }
    const huge = await authzen(server.url, pep.key, '/access/v1/evaluations', {
      subject: { type: 'user', id: 'u' },
      action: { name: 'a:read' },
      evaluations: Array.from({ length: 501 }, (_, i) => ({
        resource: { type: 't', id: String(i) },
      })),
    });
    expect(huge.status).toBe(400);
    expect(huge.text).toContain('at most 500');
    const semantic = await authzen(server.url, pep.key, '/access/v1/evaluations', {
      evaluations: [evaluation('u', 'a:read', '1')],
      options: { evaluations_semantic: 'sometimes' },
    });
    expect(semantic.status).toBe(400);
    const notJson = await authzen(server.url, pep.key, '/access/v1/evaluation', 'subject=x', {
      contentType: 'text/plain',
    });
    expect(notJson.status).toBe(400);
    const broken = await authzen(server.url, pep.key, '/access/v1/evaluation', '{"subject":');
    expect(broken.status).toBe(400);
    const token = await authzen(server.url, pep.key, '/access/v1/search/resource', {
      subject: { type: 'user', id: 'u' },
      action: { name: 'a:read' },
      resource: { type: 't' },
      page: { token: 'not-a-token' },
    });
    // An unknown subject has no resources; a bad token for a known one is a 400 (below).
    expect(token.status).toBe(200);
    expect(await count()).toBe(before);
  });

  it('should let check read resourceType and properties', async () => {
    const scope = `${unique('doc').replace('-', '')}:write`;
    await run(
      server,
      'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
      {
        input: { name: scope },
      },
    );
    const owner = await createIdentity(server, { kind: 'USER', externalId: unique('owner') });
    await grant(server, owner.id, {
      scope,
      condition: 'resourceType == "doc" && properties.ownerId == identity.externalId',
    });
    const ask = async (resourceType: string, ownerId: string) =>
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          `query($id: ID!, $scope: String!, $type: String, $props: JSON) {
            check(identityId: $id, scope: $scope, resource: "d1", resourceType: $type, properties: $props) { allowed reason }
          }`,
          { id: owner.id, scope, type: resourceType, props: { ownerId } },
        ),
      ).check as { allowed: boolean; reason: string };
    expect((await ask('doc', owner.externalId as string)).allowed).toBe(true);
    const notOwner = await ask('doc', 'someone-else');
    expect(notOwner.allowed).toBe(false);
    expect(notOwner.reason).toContain('properties.ownerId');
    expect((await ask('sheet', owner.externalId as string)).allowed).toBe(false);
    const bad = await gql(
      server.url,
      server.adminKey,
      `query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope, properties: "x") { allowed } }`,
      { id: owner.id, scope },
    );
    expect(firstError(bad).extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('should keep aliases unique and changed only by whoever controls the scope', async () => {
    const first = `${unique('al').replace('-', '')}:read`;
    const second = `${unique('al').replace('-', '')}:read`;
    const alias = unique('can_do').replaceAll('-', '_');
    await run(
      server,
      'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
      {
        input: { name: first, aliases: [alias] },
      },
    );
    const taken = await gql(
      server.url,
      server.adminKey,
      'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
      { input: { name: second, aliases: [alias] } },
    );
    expect(firstError(taken).extensions?.code).toBe('CONFLICT');
    expect(firstError(taken).message).toContain(first);
    const invalid = await gql(
      server.url,
      server.adminKey,
      'mutation { setScopeAliases(scope: "' +
        first +
        '", aliases: ["has:colon"], reason: "x") { name } }',
    );
    expect(firstError(invalid).extensions?.code).toBe('BAD_USER_INPUT');
    const writer = await identityWithGrants(server, ['scopes:write', 'scopes:read']);
    const outsider = await gql(
      server.url,
      writer.key,
      `mutation($s: String!) { setScopeAliases(scope: $s, aliases: ["mine"], reason: "Steal it.") { name } }`,
      { s: first },
    );
    expect(firstError(outsider).extensions?.code).toBe('FORBIDDEN');
    const changed = await run(
      server,
      `mutation($s: String!, $a: [String!]!) { setScopeAliases(scope: $s, aliases: $a, reason: "Rename.") { aliases } }`,
      { s: first, a: [`${alias}_v2`] },
    );
    expect(changed.setScopeAliases.aliases).toEqual([`${alias}_v2`]);
    const events = await run(
      server,
      `query($s: String!) { auditEvents(first: 5, filter: { subjectId: $s, action: "scope.aliases_changed" }) { nodes { details } } }`,
      { s: first },
    );
    expect(events.auditEvents.nodes[0].details).toMatchObject({
      reason: 'Rename.',
      before: { aliases: [alias] },
      after: { aliases: [`${alias}_v2`] },
    });
    // The old alias names nothing now; the new one is decided at once.
    const holder = await createIdentity(server, { kind: 'USER', externalId: unique('h') });
    await grant(server, holder.id, { scope: first });
    const old = await authzen(
      server.url,
      pep.key,
      '/access/v1/evaluation',
      evaluation(holder.id, alias, 'r'),
    );
    expect(old.json.decision).toBe(false);
    const renamed = await authzen(
      server.url,
      pep.key,
      '/access/v1/evaluation',
      evaluation(holder.id, `${alias}_v2`, 'r'),
    );
    expect(renamed.json.decision).toBe(true);
  });
});

describe('AuthZEN across instances', () => {
  const shared = engines().includes('postgres');
  let instances: TwoInstances | undefined;

  beforeAll(async () => {
    if (shared) instances = await startTwoInstances();
  }, 60_000);

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    'should deny on B the very next evaluation after a revoke returned on A (PostgreSQL only: PGlite cannot be shared by two servers)',
    async () => {
      const { a, b } = instances as TwoInstances;
      const pep = await identityWithGrants(a, ['decisions:execute']);
      const scope = `${unique('rv').replace('-', '')}:read`;
      await run(a, 'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }', {
        input: { name: scope },
      });
      const subject = await createIdentity(a, { kind: 'USER', externalId: unique('rv-user') });
      const held = await grant(a, subject.id, { scope });
      const ask = () =>
        authzen(
          b.url,
          pep.key,
          '/access/v1/evaluation',
          evaluation(subject.externalId as string, scope, 'r1'),
        );
      expect((await ask()).json.decision).toBe(true);
      expect((await ask()).json.decision).toBe(true);
      await run(a, 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }', {
        id: held.id,
      });
      const after = await ask();
      expect(after.json.decision).toBe(false);
    },
  );
});

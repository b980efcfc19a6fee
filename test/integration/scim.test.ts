import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, firstError, gql } from '../fixtures/gql.js';
import {
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  unique,
  uniqueScope,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const SCIM_SCOPES = ['identities:read', 'identities:write', 'groups:read', 'groups:write'];
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

interface ScimAnswer {
  readonly status: number;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: specs read SCIM resources of many shapes
  readonly json: any;
  readonly headers: Headers;
}

/** One SCIM request as identity providers send it: `application/scim+json`, a bearer key. */
async function scim(
  url: string,
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/scim+json; charset=utf-8',
): Promise<ScimAnswer> {
  const headers: Record<string, string> = { accept: 'application/scim+json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const response = await fetch(`${url}/scim/v2${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
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

const patchOp = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });
const filter = (expression: string) => `filter=${encodeURIComponent(expression)}`;

describe.each(engines())('SCIM 2.0 provisioning on %s', (engine) => {
  let server: TestServer;
  let idp: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine);
    idp = await identityWithGrants(server, SCIM_SCOPES, { name: unique('okta') });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  /** The membership sources of a group's live members, by identity id. */
  async function memberSources(groupId: string): Promise<Record<string, string>> {
    const data = dataOf(
      await gql(
        server.url,
        server.adminKey,
        `query($id: ID!) { group(id: $id) { members(first: 100) { nodes { source identity { id } } } } }`,
        { id: groupId },
      ),
    );
    const nodes = data.group.members.nodes as { source: string; identity: { id: string } }[];
    return Object.fromEntries(nodes.map((n) => [n.identity.id, n.source]));
  }

  it('should pass the Okta provisioning sequence, offboarding denying the very next request', async () => {
    const alice = `${unique('alice')}@example.com`;
    const bob = `${unique('bob')}@example.com`;
    const lookup = await scim(
      server.url,
      idp.key,
      'GET',
      `/Users?${filter(`userName eq "${alice}"`)}&startIndex=1&count=100`,
    );
    expect(lookup.status, lookup.text).toBe(200);
    expect(lookup.json).toMatchObject({ schemas: [LIST_SCHEMA], totalResults: 0, Resources: [] });

    const ids: Record<string, string> = {};
    for (const userName of [alice, bob]) {
      const created = await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName,
        name: { givenName: 'Test', familyName: 'User' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Test User',
        locale: 'en-US',
        externalId: unique('00u'),
        groups: [],
        password: 'never-stored-1!',
        active: true,
      });
      expect(created.status, created.text).toBe(201);
      expect(created.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(created.headers.get('location')).toBe(created.json.meta.location);
      expect(created.json).toMatchObject({ userName, active: true, name: { givenName: 'Test' } });
      expect(created.json.password).toBeUndefined();
      ids[userName] = created.json.id;
    }
    const aliceId = ids[alice] as string;
    const bobId = ids[bob] as string;

    const fetched = await scim(server.url, idp.key, 'GET', `/Users/${aliceId}`);
    expect(fetched.status).toBe(200);
    expect(fetched.json).toMatchObject({ id: aliceId, userName: alice, active: true });
    const found = await scim(
      server.url,
      idp.key,
      'GET',
      `/Users?${filter(`userName eq "${alice.toUpperCase()}"`)}`,
    );
    expect(found.json.totalResults).toBe(1);
    expect(found.json.Resources[0].id).toBe(aliceId);

    // The identity is a USER with the profile in its attributes and the password nowhere.
    const identity = dataOf(
      await gql(
        server.url,
        server.adminKey,
        `query($id: ID!) { identity(id: $id) { kind name status attributes } }`,
        { id: aliceId },
      ),
    ).identity;
    expect(identity).toMatchObject({ kind: 'USER', name: alice, status: 'ACTIVE' });
    expect(identity.attributes.scim.emails[0].value).toBe(alice);
    expect(JSON.stringify(identity)).not.toContain('never-stored');

    // Group push: create, rename-free replace, add both, remove one by filter.
    const groupName = unique('okta-group');
    const pushed = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: groupName,
      members: [],
    });
    expect(pushed.status, pushed.text).toBe(201);
    const groupId = pushed.json.id as string;
    const renamed = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({ op: 'replace', value: { id: groupId, displayName: groupName } }),
    );
    expect(renamed.status, renamed.text).toBe(200);
    const added = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({
        op: 'add',
        path: 'members',
        value: [
          { value: aliceId, display: alice },
          { value: bobId, display: bob },
        ],
      }),
    );
    expect(added.status, added.text).toBe(204);
    expect(await memberSources(groupId)).toEqual({ [aliceId]: 'SCIM', [bobId]: 'SCIM' });
    const removed = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({ op: 'remove', path: `members[value eq "${bobId}"]` }),
    );
    expect(removed.status, removed.text).toBe(204);
    expect(await memberSources(groupId)).toEqual({ [aliceId]: 'SCIM' });

    // Alice signs in with a key, then Okta deactivates her: the very next request is refused.
    const key = await createKey(server, aliceId);
    const before = await gql(server.url, key.secret, '{ me { id } }');
    expect(before.body.data?.me).toEqual({ id: aliceId });
    const deactivated = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Users/${aliceId}`,
      patchOp({ op: 'replace', value: { active: false } }),
    );
    expect(deactivated.status, deactivated.text).toBe(200);
    expect(deactivated.json.active).toBe(false);
    const after = await gql(server.url, key.secret, '{ me { id } }');
    expect(after.status).toBe(401);
    expect(firstError(after).extensions?.code).toBe('UNAUTHENTICATED');
    // Disabling ended her membership too.
    expect(await memberSources(groupId)).toEqual({});

    // Reactivation re-enables the identity; her old key stays revoked.
    const reactivated = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Users/${aliceId}`,
      patchOp({ op: 'replace', path: 'active', value: true }),
    );
    expect(reactivated.status, reactivated.text).toBe(200);
    expect(reactivated.json.active).toBe(true);
    expect((await gql(server.url, key.secret, '{ me { id } }')).status).toBe(401);

    // Every change is in the audit log, made by the SCIM client's identity.
    const events = dataOf(
      await gql(
        server.url,
        server.adminKey,
        `query($id: String!) { auditEvents(first: 50, filter: { subjectId: $id }) { nodes { action actorId } } }`,
        { id: aliceId },
      ),
    ).auditEvents.nodes as { action: string; actorId: string | null }[];
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['identity.created', 'identity.disabled', 'identity.enabled']),
    );
    expect(
      events.filter((e) => e.action.startsWith('identity.')).every((e) => e.actorId === idp.id),
    ).toBe(true);
  });

  it('should pass the Microsoft Entra sequence, with capitalised operations and string booleans', async () => {
    const userName = `${unique('carol')}@contoso.com`;
    const none = await scim(
      server.url,
      idp.key,
      'GET',
      `/Users?${filter(`userName eq "${userName}"`)}`,
    );
    expect(none.json.totalResults).toBe(0);
    const externalId = unique('carol');
    const created = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE],
      externalId,
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: userName }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Carol C', familyName: 'C', givenName: 'Carol' },
      roles: [],
      [ENTERPRISE]: { department: 'Finance' },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;
    expect(created.json.schemas).toEqual([USER_SCHEMA, ENTERPRISE]);
    const byExternalId = await scim(
      server.url,
      idp.key,
      'GET',
      `/Users?${filter(`externalId eq "${externalId}"`)}`,
    );
    expect(byExternalId.json.Resources.map((r: { id: string }) => r.id)).toEqual([id]);

    const updated = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Users/${id}`,
      patchOp(
        { op: 'Replace', path: 'displayName', value: 'Carol Clark' },
        { op: 'Replace', path: 'name.familyName', value: 'Clark' },
        { op: 'Add', path: 'emails[type eq "work"].value', value: `clark.${userName}` },
        { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Engineering' },
      ),
    );
    expect(updated.status, updated.text).toBe(200);
    // Entra replaces a value that is not there yet, and removes one that is already gone.
    const more = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Users/${id}`,
      patchOp(
        { op: 'Replace', path: 'addresses[type eq "work"].locality', value: 'Paris' },
        { op: 'Remove', path: 'phoneNumbers[type eq "mobile"].value' },
      ),
    );
    expect(more.status, more.text).toBe(200);
    expect(more.json.addresses).toEqual([{ type: 'work', locality: 'Paris' }]);
    expect(updated.json).toMatchObject({
      displayName: 'Carol Clark',
      name: { familyName: 'Clark', givenName: 'Carol' },
      active: true,
      [ENTERPRISE]: { department: 'Engineering' },
    });

    // Groups: create with an externalId, find by displayName without members, Add and Remove.
    const groupName = unique('Finance Team');
    const group = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      externalId: unique('entra-group'),
      displayName: groupName,
      members: [],
    });
    expect(group.status, group.text).toBe(201);
    const groupId = group.json.id as string;
    const listed = await scim(
      server.url,
      idp.key,
      'GET',
      `/Groups?excludedAttributes=members&${filter(`displayName eq "${groupName}"`)}`,
    );
    expect(listed.status).toBe(200);
    expect(listed.json.Resources).toHaveLength(1);
    expect(listed.json.Resources[0]).toMatchObject({ id: groupId, displayName: groupName });
    expect(listed.json.Resources[0].members).toBeUndefined();
    const add = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({ op: 'Add', path: 'members', value: [{ value: id }] }),
    );
    expect(add.status, add.text).toBe(204);
    expect(await memberSources(groupId)).toEqual({ [id]: 'SCIM' });
    // Adding again is not an error (SCIM repeats itself).
    const again = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({ op: 'Add', path: 'members', value: [{ value: id }] }),
    );
    expect(again.status, again.text).toBe(204);
    const remove = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${groupId}`,
      patchOp({ op: 'Remove', path: 'members', value: [{ value: id }] }),
    );
    expect(remove.status, remove.text).toBe(204);
    expect(await memberSources(groupId)).toEqual({});

    const disabled = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Users/${id}`,
      patchOp({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(disabled.status, disabled.text).toBe(200);
    expect(disabled.json.active).toBe(false);

    const deleted = await scim(server.url, idp.key, 'DELETE', `/Users/${id}`);
    expect(deleted.status, deleted.text).toBe(204);
    const gone = await scim(server.url, idp.key, 'GET', `/Users/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.json.schemas).toEqual([ERROR_SCHEMA]);
    expect(
      (await scim(server.url, idp.key, 'GET', `/Users?${filter(`userName eq "${userName}"`)}`)).json
        .totalResults,
    ).toBe(0);
    // The identity and its history stay.
    const kept = dataOf(
      await gql(server.url, server.adminKey, `query($id: ID!) { identity(id: $id) { status } }`, {
        id,
      }),
    ).identity;
    expect(kept).toEqual({ status: 'DISABLED' });

    // Assigned to the app again: the same person gets the same identity back, re-enabled.
    const back = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      externalId,
      userName,
      active: true,
    });
    expect(back.status, back.text).toBe(201);
    expect(back.json).toMatchObject({ id, userName, active: true });
    expect((await scim(server.url, idp.key, 'GET', `/Users/${id}`)).status).toBe(200);
    // Someone else with that name is refused.
    await scim(server.url, idp.key, 'DELETE', `/Users/${id}`);
    const impostor = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      externalId: unique('other'),
      userName,
    });
    expect(impostor.status, impostor.text).toBe(409);
    expect(impostor.json.scimType).toBe('uniqueness');

    const groupGone = await scim(server.url, idp.key, 'DELETE', `/Groups/${groupId}`);
    expect(groupGone.status, groupGone.text).toBe(204);
    expect((await scim(server.url, idp.key, 'GET', `/Groups/${groupId}`)).status).toBe(404);
  });

  it("should replace a group's members with PUT and with a PATCH replace", async () => {
    const people: string[] = [];
    for (let i = 0; i < 3; i++) {
      const made = await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName: unique('member'),
      });
      people.push(made.json.id);
    }
    const [a, b, c] = people as [string, string, string];
    const name = unique('replaced');
    const group = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: name,
      members: [{ value: a }, { value: b }],
    });
    expect(group.status, group.text).toBe(201);
    expect(group.json.members).toHaveLength(2);
    const put = await scim(server.url, idp.key, 'PUT', `/Groups/${group.json.id}`, {
      schemas: [GROUP_SCHEMA],
      displayName: name,
      members: [{ value: b }, { value: c }],
    });
    expect(put.status, put.text).toBe(200);
    expect(Object.keys(await memberSources(group.json.id)).sort()).toEqual([b, c].sort());
    const replaced = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${group.json.id}`,
      patchOp({ op: 'replace', path: 'members', value: [{ value: a }] }),
    );
    expect(replaced.status, replaced.text).toBe(200);
    expect(Object.keys(await memberSources(group.json.id))).toEqual([a]);
  });

  it('should replace a profile with PUT, keeping active unless the body says', async () => {
    const userName = unique('put');
    const made = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName,
      active: false,
      title: 'Engineer',
    });
    expect(made.status, made.text).toBe(201);
    expect(made.json.active).toBe(false);
    const id = made.json.id as string;
    const silent = await scim(server.url, idp.key, 'PUT', `/Users/${id}`, {
      schemas: [USER_SCHEMA],
      userName,
      displayName: 'Put Person',
    });
    expect(silent.status, silent.text).toBe(200);
    expect(silent.json).toMatchObject({ active: false, displayName: 'Put Person' });
    expect(silent.json.title).toBeUndefined();
    const back = await scim(server.url, idp.key, 'PUT', `/Users/${id}`, {
      schemas: [USER_SCHEMA],
      userName,
      active: true,
    });
    expect(back.json.active).toBe(true);
  });

  it('should page users with startIndex and count', async () => {
    for (let i = 0; i < 3; i++) {
      await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName: unique('paged'),
      });
    }
    const all = await scim(server.url, idp.key, 'GET', '/Users?count=1000');
    const total = all.json.totalResults as number;
    expect(total).toBeGreaterThanOrEqual(3);
    const page = await scim(server.url, idp.key, 'GET', '/Users?startIndex=2&count=2');
    expect(page.json).toMatchObject({ totalResults: total, startIndex: 2, itemsPerPage: 2 });
    expect(page.json.Resources.map((r: { id: string }) => r.id)).toEqual(
      all.json.Resources.slice(1, 3).map((r: { id: string }) => r.id),
    );
    const counted = await scim(server.url, idp.key, 'GET', '/Users?count=0');
    expect(counted.json).toMatchObject({ totalResults: total, itemsPerPage: 0, Resources: [] });
  });

  it('should refuse callers without credentials (401) or without the scopes (403), as SCIM errors', async () => {
    const anonymous = await scim(server.url, null, 'GET', '/Users');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ schemas: [ERROR_SCHEMA], status: '401' });
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    const unknown = await scim(server.url, 'kh_not_a_real_key', 'GET', '/Users');
    expect(unknown.status).toBe(401);
    expect(unknown.json.schemas).toEqual([ERROR_SCHEMA]);
    const reader = await identityWithGrants(server, ['identities:read', 'groups:read']);
    const refused = await scim(server.url, reader.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: unique('nope'),
    });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ schemas: [ERROR_SCHEMA], status: '403' });
    expect(refused.json.detail).toContain('"identities:write"');
  });

  it('should answer bad filters and bad bodies with a 400 and its scimType, never a stack trace', async () => {
    const cases: [string, string, unknown, number, string | undefined][] = [
      ['GET', `/Users?${filter('userName eq')}`, undefined, 400, 'invalidFilter'],
      ['GET', `/Users?${filter('title eq "x"')}`, undefined, 400, 'invalidFilter'],
      ['GET', `/Users?${filter('userName co "x"')}`, undefined, 400, 'invalidFilter'],
      [
        'GET',
        `/Groups?${filter('displayName eq "a" or displayName eq "b"')}`,
        undefined,
        400,
        'invalidFilter',
      ],
      ['GET', '/Users?startIndex=abc', undefined, 400, 'invalidValue'],
      ['POST', '/Users', { schemas: [USER_SCHEMA] }, 400, 'invalidValue'],
      [
        'POST',
        '/Users',
        { schemas: [USER_SCHEMA], userName: 'x', active: 'maybe' },
        400,
        'invalidValue',
      ],
      ['POST', '/Users', '{"userName": ', 400, 'invalidSyntax'],
      [
        'POST',
        '/Groups',
        {
          schemas: [GROUP_SCHEMA],
          displayName: unique('g'),
          members: [{ value: '00000000-0000-4000-8000-000000000000' }],
        },
        400,
        'invalidValue',
      ],
      [
        'POST',
        '/Groups',
        { schemas: [GROUP_SCHEMA], displayName: 'has*star' },
        400,
        'invalidValue',
      ],
      ['GET', '/Users/not-an-id', undefined, 404, undefined],
      ['GET', '/Nothing', undefined, 404, undefined],
    ];
    for (const [method, path, body, status, scimType] of cases) {
      const answer = await scim(server.url, idp.key, method, path, body);
      expect(answer.status, `${method} ${path}: ${answer.text}`).toBe(status);
      expect(answer.json.schemas).toEqual([ERROR_SCHEMA]);
      expect(answer.json.scimType).toBe(scimType);
      expect(answer.text).not.toMatch(/at .*\.(ts|js):\d+/);
    }

    const user = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: unique('patched'),
    });
    const patches: [unknown, string][] = [
      [{ schemas: [PATCH_OP] }, 'invalidSyntax'],
      [{ Operations: [{ op: 'replace', path: 'active', value: false }] }, 'invalidSyntax'],
      [patchOp({ op: 'frobnicate', path: 'active', value: false }), 'invalidSyntax'],
      [patchOp({ op: 'replace', path: 'emails[type eq', value: 'x' }), 'invalidPath'],
      [patchOp({ op: 'remove' }), 'noTarget'],
      [patchOp({ op: 'replace', path: 'active', value: 'perhaps' }), 'invalidValue'],
      ['not json', 'invalidSyntax'],
    ];
    for (const [body, scimType] of patches) {
      const answer = await scim(server.url, idp.key, 'PATCH', `/Users/${user.json.id}`, body);
      expect(answer.status, `${JSON.stringify(body)}: ${answer.text}`).toBe(400);
      expect(answer.json.scimType, answer.text).toBe(scimType);
    }
    const unchanged = await scim(server.url, idp.key, 'GET', `/Users/${user.json.id}`);
    expect(unchanged.json.active).toBe(true);
  });

  it('should refuse a userName that is taken with 409 uniqueness', async () => {
    const userName = unique('dup');
    const first = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName,
    });
    expect(first.status).toBe(201);
    const second = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName,
    });
    expect(second.status).toBe(409);
    expect(second.json).toMatchObject({
      schemas: [ERROR_SCHEMA],
      status: '409',
      scimType: 'uniqueness',
    });
    // A group refused for an unknown member is not created: the retry finds its name free.
    const retried = unique('retried');
    const unknownMember = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: retried,
      members: [{ value: '00000000-0000-4000-8000-000000000000' }],
    });
    expect(unknownMember.status).toBe(400);
    const retry = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: retried,
    });
    expect(retry.status, retry.text).toBe(201);
    const groupName = unique('dupgroup');
    await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: groupName,
    });
    const twice = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: groupName,
    });
    expect(twice.status).toBe(409);
    expect(twice.json.scimType).toBe('uniqueness');
  });

  it('should not let the SCIM client add members to a group that confers more than it holds grantable', async () => {
    const scope = uniqueScope('read');
    await defineScope(server, { name: scope });
    const name = unique('payroll');
    const group = await scim(server.url, idp.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: name,
    });
    dataOf(
      await gql(
        server.url,
        server.adminKey,
        `mutation($input: GrantInput!) { grant(input: $input) { id } }`,
        { input: { groupId: group.json.id, scope, reason: 'Payroll team reads payroll.' } },
      ),
    );
    const user = await scim(server.url, idp.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: unique('mallory'),
    });
    const refused = await scim(
      server.url,
      idp.key,
      'PATCH',
      `/Groups/${group.json.id}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: user.json.id }] }),
    );
    expect(refused.status, refused.text).toBe(403);
    expect(refused.json.detail).toContain(scope);
    expect(await memberSources(group.json.id)).toEqual({});

    // Once the client holds it grantable, the same PATCH succeeds, with a key minted since: the
    // key minted before the scope existed is capped by what the admin could delegate then.
    await grant(server, idp.id, { scope, grantable: true });
    const { secret } = await createKey(server, idp.id);
    const allowed = await scim(
      server.url,
      secret,
      'PATCH',
      `/Groups/${group.json.id}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: user.json.id }] }),
    );
    expect(allowed.status, allowed.text).toBe(204);
  });

  describe('renames', () => {
    const identityOf = async (id: string) =>
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($id: ID!) { identity(id: $id) { id name externalId status } }',
          { id },
        ),
      ).identity as { id: string; name: string; externalId: string | null; status: string };

    const renameEvents = async (subjectId: string, action: string) =>
      (
        dataOf(
          await gql(
            server.url,
            server.adminKey,
            `query($filter: AuditFilter) { auditEvents(first: 10, filter: $filter) { nodes { action actor { id } details } } }`,
            { filter: { subjectId, action } },
          ),
        ).auditEvents as { nodes: { details: Record<string, unknown> }[] }
      ).nodes;

    it("should rename a user and a group in place, as Okta's PUT and PATCH send it", async () => {
      const before = `${unique('dan')}@example.com`;
      const after = `${unique('daniel')}@example.com`;
      const created = await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName: before,
        externalId: unique('00u'),
        name: { givenName: 'Dan', familyName: 'Doe' },
        emails: [{ primary: true, value: before, type: 'work' }],
        active: true,
      });
      const id = created.json.id as string;
      const key = await createKey(server, id);
      // Okta: a profile update is a PUT of the whole user, with the new userName.
      const put = await scim(server.url, idp.key, 'PUT', `/Users/${id}`, {
        schemas: [USER_SCHEMA],
        id,
        userName: after,
        externalId: created.json.externalId,
        name: { givenName: 'Daniel', familyName: 'Doe' },
        emails: [{ primary: true, value: after, type: 'work' }],
        active: true,
      });

      expect(put.status, put.text).toBe(200);
      expect(put.json).toMatchObject({ id, userName: after, name: { givenName: 'Daniel' } });
      expect((await identityOf(id)).name).toBe(after);
      const me = await gql(server.url, key.secret, '{ me { id name } }');
      expect(dataOf(me).me).toEqual({ id, name: after });
      const [renamed] = await renameEvents(id, 'identity.renamed');
      expect(renamed?.details).toMatchObject({
        before: { name: before, externalId: created.json.externalId },
        after: { name: after, externalId: created.json.externalId },
      });
      const found = await scim(
        server.url,
        idp.key,
        'GET',
        `/Users?${filter(`userName eq "${after}"`)}`,
      );
      expect(found.json.Resources.map((r: { id: string }) => r.id)).toEqual([id]);

      // Okta renames a group with a replace whose value carries id and displayName.
      const group = await scim(server.url, idp.key, 'POST', '/Groups', {
        schemas: [GROUP_SCHEMA],
        displayName: unique('Sales'),
        members: [{ value: id }],
      });
      const groupId = group.json.id as string;
      const newName = unique('Sales EMEA');
      const patched = await scim(
        server.url,
        idp.key,
        'PATCH',
        `/Groups/${groupId}`,
        patchOp({ op: 'replace', value: { id: groupId, displayName: newName } }),
      );

      expect(patched.status, patched.text).toBe(200);
      expect(patched.json).toMatchObject({ id: groupId, displayName: newName });
      expect(patched.json.members.map((m: { value: string }) => m.value)).toEqual([id]);
      const [groupEvent] = await renameEvents(groupId, 'group.renamed');
      expect(groupEvent?.details).toMatchObject({
        before: { name: group.json.displayName },
        after: { name: newName },
      });
    });

    it("should rename as Microsoft Entra's PATCH Replace of userName, externalId and displayName sends it", async () => {
      const userName = `${unique('erin')}@contoso.com`;
      const created = await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName,
        externalId: unique('erin'),
        active: 'True',
      });
      const id = created.json.id as string;
      const newUserName = `${unique('erin.smith')}@contoso.com`;
      const newExternalId = unique('erin-smith');

      const patched = await scim(
        server.url,
        idp.key,
        'PATCH',
        `/Users/${id}`,
        patchOp(
          { op: 'Replace', path: 'userName', value: newUserName },
          { op: 'Replace', path: 'externalId', value: newExternalId },
        ),
      );

      expect(patched.status, patched.text).toBe(200);
      expect(patched.json).toMatchObject({ id, userName: newUserName, externalId: newExternalId });
      expect(await identityOf(id)).toMatchObject({ name: newUserName, externalId: newExternalId });

      const group = await scim(server.url, idp.key, 'POST', '/Groups', {
        schemas: [GROUP_SCHEMA],
        externalId: unique('entra-group'),
        displayName: unique('Finance'),
      });
      const renamed = unique('Finance and Legal');
      const groupPatch = await scim(
        server.url,
        idp.key,
        'PATCH',
        `/Groups/${group.json.id}`,
        patchOp({ op: 'Replace', path: 'displayName', value: renamed }),
      );
      expect(groupPatch.status, groupPatch.text).toBe(200);
      const read = await scim(server.url, idp.key, 'GET', `/Groups/${group.json.id}`);
      expect(read.json.displayName).toBe(renamed);
    });

    it('should refuse a taken userName, displayName or externalId with 409 uniqueness, changing nothing', async () => {
      const [a, b] = await Promise.all(
        ['ann', 'ben'].map((n) =>
          scim(server.url, idp.key, 'POST', '/Users', {
            schemas: [USER_SCHEMA],
            userName: unique(n),
            externalId: unique(`${n}-ext`),
          }),
        ),
      );
      const attempts = [
        patchOp({ op: 'Replace', path: 'userName', value: b?.json.userName }),
        patchOp({ op: 'Replace', path: 'externalId', value: b?.json.externalId }),
      ];
      for (const body of attempts) {
        const answer = await scim(server.url, idp.key, 'PATCH', `/Users/${a?.json.id}`, body);
        expect(answer.status, answer.text).toBe(409);
        expect(answer.json.scimType).toBe('uniqueness');
      }
      expect(await identityOf(a?.json.id)).toMatchObject({
        name: a?.json.userName,
        externalId: a?.json.externalId,
      });
      const [g1, g2] = await Promise.all(
        ['g1', 'g2'].map((n) =>
          scim(server.url, idp.key, 'POST', '/Groups', {
            schemas: [GROUP_SCHEMA],
            displayName: unique(n),
            externalId: unique(`${n}-ext`),
          }),
        ),
      );
      for (const body of [
        patchOp({ op: 'Replace', path: 'displayName', value: g2?.json.displayName }),
        patchOp({ op: 'Replace', path: 'externalId', value: g2?.json.externalId }),
      ]) {
        const answer = await scim(server.url, idp.key, 'PATCH', `/Groups/${g1?.json.id}`, body);
        expect(answer.status, answer.text).toBe(409);
        expect(answer.json.scimType).toBe('uniqueness');
      }
    });

    it('should refuse a new externalId that would hand over grants the client does not hold grantable', async () => {
      const scope = uniqueScope('read');
      await defineScope(server, { name: scope });
      const created = await scim(server.url, idp.key, 'POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName: unique('treasurer'),
        externalId: unique('treasurer'),
      });
      const id = created.json.id as string;
      await grant(server, id, { scope });
      const takeover = patchOp({ op: 'Replace', path: 'externalId', value: unique('mallory') });

      const refused = await scim(server.url, idp.key, 'PATCH', `/Users/${id}`, takeover);

      expect(refused.status, refused.text).toBe(403);
      expect(refused.json.detail).toContain(scope);
      expect((await identityOf(id)).externalId).toBe(created.json.externalId);
      // A client that may hand out the same grant may move it (with a key minted since: a key
      // never covers a scope defined after it was made).
      await grant(server, idp.id, { scope, grantable: true });
      const fresh = await createKey(server, idp.id);
      const moved = await scim(server.url, fresh.secret, 'PATCH', `/Users/${id}`, takeover);
      expect(moved.status, moved.text).toBe(200);
    });
  });

  it('should serve ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const config = await scim(server.url, null, 'GET', '/ServiceProviderConfig');
    expect(config.status).toBe(200);
    expect(config.json).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true },
    });
    const types = await scim(server.url, null, 'GET', '/ResourceTypes');
    expect(types.json.Resources.map((t: { endpoint: string }) => t.endpoint)).toEqual([
      '/Users',
      '/Groups',
    ]);
    expect((await scim(server.url, null, 'GET', '/ResourceTypes/User')).json.schema).toBe(
      USER_SCHEMA,
    );
    const schemas = await scim(server.url, null, 'GET', '/Schemas');
    expect(schemas.json.Resources.map((s: { id: string }) => s.id)).toEqual([
      USER_SCHEMA,
      ENTERPRISE,
      GROUP_SCHEMA,
    ]);
    expect((await scim(server.url, null, 'GET', `/Schemas/${GROUP_SCHEMA}`)).json.name).toBe(
      'Group',
    );
    expect((await scim(server.url, null, 'GET', '/Schemas/urn:nope')).status).toBe(404);
  });
});

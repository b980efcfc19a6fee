import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createKey,
  defineScope,
  identityWithGrants,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import type { TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

/** Offboardings on A, each followed at once by the person's request on B. */
const RACES = 40;
const SKIP_REASON = '(PostgreSQL only: PGlite cannot be shared by two servers)';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const CHECK = `query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }`;

async function scim(url: string, key: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/scim+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: specs read SCIM resources loosely
  return { status: response.status, text, json: (text === '' ? null : JSON.parse(text)) as any };
}

describe.each(engines())('SCIM across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let idp: SeededPrincipal;
  let scope: string;

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances();
    ({ a, b } = instances);
    scope = await defineScope(a);
    idp = await identityWithGrants(a, [
      'identities:read',
      'identities:write',
      'groups:read',
      'groups:write',
      { scope, grantable: true },
    ]);
  }, 60_000);

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    `should refuse the person's key on B right after active:false returns on A, ${RACES} times ${SKIP_REASON}`,
    async () => {
      let stale = 0;
      for (let i = 0; i < RACES; i++) {
        const user = await scim(a.url, idp.key, 'POST', '/Users', {
          schemas: [USER_SCHEMA],
          userName: unique('leaver'),
        });
        expect(user.status, user.text).toBe(201);
        const key = await createKey(a, user.json.id);
        // B has authenticated the key before (a warm cache is what could go stale).
        expect((await gql(b.url, key.secret, '{ me { id } }')).status).toBe(200);
        const off = await scim(a.url, idp.key, 'PATCH', `/Users/${user.json.id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', value: { active: false } }],
        });
        expect(off.status, off.text).toBe(200);
        if ((await gql(b.url, key.secret, '{ me { id } }')).status !== 401) stale += 1;
      }
      expect(stale).toBe(0);
    },
    120_000,
  );

  it.skipIf(!shared)(
    `should deny on B what a group conferred right after a SCIM member removal returns on A ${SKIP_REASON}`,
    async () => {
      const group = await scim(a.url, idp.key, 'POST', '/Groups', {
        schemas: [GROUP_SCHEMA],
        displayName: unique('scim-race'),
      });
      dataOf(
        await gql(
          a.url,
          a.adminKey,
          'mutation($g: ID!, $s: String!) { grant(input: { groupId: $g, scope: $s, reason: "Race." }) { id } }',
          { g: group.json.id, s: scope },
        ),
      );
      let stale = 0;
      for (let i = 0; i < RACES; i++) {
        const user = await scim(a.url, idp.key, 'POST', '/Users', {
          schemas: [USER_SCHEMA],
          userName: unique('mover'),
        });
        const id = user.json.id as string;
        const added = await scim(a.url, idp.key, 'PATCH', `/Groups/${group.json.id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
        });
        expect(added.status, added.text).toBe(204);
        const before = await gql(b.url, a.adminKey, CHECK, { id, scope });
        expect(dataOf(before).check.allowed).toBe(true);
        const removed = await scim(a.url, idp.key, 'PATCH', `/Groups/${group.json.id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }],
        });
        expect(removed.status, removed.text).toBe(204);
        if (dataOf(await gql(b.url, a.adminKey, CHECK, { id, scope })).check.allowed) stale += 1;
      }
      expect(stale).toBe(0);
    },
    120_000,
  );
});

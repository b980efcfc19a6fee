import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  type SeededIdentity,
  unique,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const UNKNOWN_ID = '0b7e5e52-9a55-4c1e-8d0a-6f6b2c3d4e5f';
const FIVE_YEARS = 157_680_000;

const Q = {
  identity: 'query($id: ID!) { identity(id: $id) { id } }',
  disableIdentity: 'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
  revokeApiKey: 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
  revokeGrant:
    'mutation($id: ID!, $reason: String!) { revokeGrant(id: $id, reason: $reason) { id } }',
  check:
    'query($id: ID!, $scope: String!, $resource: String) { check(identityId: $id, scope: $scope, resource: $resource) { allowed } }',
  grant: 'mutation($input: GrantInput!) { grant(input: $input) { id } }',
  createApiKey: 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
  createIdentity: 'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
  defineScope: 'mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }',
  identities:
    'query($first: Int, $after: String) { identities(first: $first, after: $after) { nodes { id } } }',
  grants:
    'query($first: Int, $after: String, $filter: GrantFilter) { grants(first: $first, after: $after, filter: $filter) { nodes { id } } }',
};

describe.each(engines())('bad input on %s', (engine) => {
  let server: TestServer;
  let target: SeededIdentity;
  let scope: string;
  let before: Record<string, number>;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  /** Asserts the refusal and that it wrote nothing since the test's snapshot. */
  async function refused(response: GqlResponse<unknown>, code: string, message?: string | RegExp) {
    const error = expectError(response, code, message);
    expect(await snapshot(server)).toEqual(before);
    return error;
  }

  beforeAll(async () => {
    server = await startTestServer(engine);
    target = await createIdentity(server);
    scope = await defineScope(server);
  });

  beforeEach(async () => {
    before = await snapshot(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('ids', () => {
    const cases: [string, string, (id: string) => Record<string, unknown>, string][] = [
      ['identity', Q.identity, (id) => ({ id }), 'identity'],
      ['disableIdentity', Q.disableIdentity, (id) => ({ id }), 'identity'],
      ['revokeApiKey', Q.revokeApiKey, (id) => ({ id }), 'API key'],
      ['revokeGrant', Q.revokeGrant, (id) => ({ id, reason: 'Why not.' }), 'grant'],
      ['check', Q.check, (id) => ({ id, scope: 'grants:read' }), 'identity'],
      [
        'grant',
        Q.grant,
        (id) => ({ input: { identityId: id, scope: 'grants:read', reason: 'Test.' } }),
        'identity',
      ],
      [
        'createApiKey',
        Q.createApiKey,
        (id) => ({ input: { identityId: id, name: 'k' } }),
        'identity',
      ],
      ['grants', Q.grants, (id) => ({ filter: { identityId: id } }), 'identity'],
    ];

    it.each(cases)(
      'should refuse %s with an invalid id with BAD_USER_INPUT naming it',
      async (_, query, vars, what) => {
        const response = await asAdmin(query, vars('not-a-uuid'));

        await refused(response, 'BAD_USER_INPUT', `"not-a-uuid" is not a valid ${what} id.`);
      },
    );

    const unknown: [string, string, Record<string, unknown>, string][] = [
      [
        'disableIdentity',
        Q.disableIdentity,
        { id: UNKNOWN_ID },
        `Identity ${UNKNOWN_ID} does not exist.`,
      ],
      ['revokeApiKey', Q.revokeApiKey, { id: UNKNOWN_ID }, `API key ${UNKNOWN_ID} does not exist.`],
      [
        'revokeGrant',
        Q.revokeGrant,
        { id: UNKNOWN_ID, reason: 'Why not.' },
        `Grant ${UNKNOWN_ID} does not exist.`,
      ],
      [
        'check',
        Q.check,
        { id: UNKNOWN_ID, scope: 'grants:read' },
        `Identity ${UNKNOWN_ID} does not exist.`,
      ],
      [
        'grant',
        Q.grant,
        { input: { identityId: UNKNOWN_ID, scope: 'grants:read', reason: 'Test.' } },
        `Identity ${UNKNOWN_ID} does not exist.`,
      ],
      [
        'createApiKey',
        Q.createApiKey,
        { input: { identityId: UNKNOWN_ID, name: 'k' } },
        `Identity ${UNKNOWN_ID} does not exist.`,
      ],
    ];

    it.each(unknown)(
      'should refuse %s with an unknown id with NOT_FOUND naming it',
      async (_, query, vars, message) => {
        await refused(await asAdmin(query, vars), 'NOT_FOUND', message);
      },
    );
  });

  describe('reasons', () => {
    it.each([
      ['empty', ''],
      ['whitespace', '   \t '],
    ])('should refuse a grant with an %s reason with BAD_USER_INPUT', async (_, reason) => {
      const response = await asAdmin(Q.grant, { input: { identityId: target.id, scope, reason } });

      const error = await refused(response, 'BAD_USER_INPUT', 'reason must not be empty.');
      expect(error.extensions?.field).toBe('reason');
    });

    it.each([
      ['a NUL character', 'INC-1\u0000 restart'],
      ['a lone surrogate', 'INC-1 \ud800 restart'],
    ])(
      'should refuse a reason with %s, which PostgreSQL cannot store, with BAD_USER_INPUT',
      async (_, reason) => {
        const response = await asAdmin(Q.grant, {
          input: { identityId: target.id, scope, reason },
        });

        const error = await refused(response, 'BAD_USER_INPUT', 'reason must');
        expect(error.extensions?.field).toBe('reason');
      },
    );

    it.each([
      ['empty', ''],
      ['whitespace', '  '],
    ])(
      'should refuse revokeGrant with an %s reason with BAD_USER_INPUT, keeping the grant',
      async (_, reason) => {
        const holder = await identityWithGrants(server, [scope]);
        before = await snapshot(server);

        const response = await asAdmin(Q.revokeGrant, { id: holder.grants[0]?.id, reason });

        await refused(response, 'BAD_USER_INPUT', 'reason must not be empty.');
      },
    );
  });

  describe('scope names', () => {
    const malformed = [
      'Orders:read',
      'orders',
      'orders:delete',
      '1orders:read',
      'orders :read',
      'orders:read:x',
      '',
    ];

    it.each(malformed)(
      'should refuse to grant the malformed scope "%s" with BAD_USER_INPUT',
      async (name) => {
        const response = await asAdmin(Q.grant, {
          input: { identityId: target.id, scope: name, reason: 'Test.' },
        });

        await refused(response, 'BAD_USER_INPUT', `"${name}" is not a valid scope name`);
      },
    );

    it.each(malformed)(
      'should refuse to define the malformed scope "%s" with BAD_USER_INPUT',
      async (name) => {
        const response = await asAdmin(Q.defineScope, { input: { name } });

        await refused(response, 'BAD_USER_INPUT', `"${name}" is not a valid scope name`);
      },
    );

    it.each(malformed)(
      'should refuse to check the malformed scope "%s" with BAD_USER_INPUT',
      async (name) => {
        const response = await asAdmin(Q.check, { id: target.id, scope: name });

        await refused(response, 'BAD_USER_INPUT', `"${name}" is not a valid scope name`);
      },
    );

    it('should refuse to grant an undefined scope with NOT_FOUND naming it', async () => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope: 'never.defined:write', reason: 'Test.' },
      });

      await refused(response, 'NOT_FOUND', 'Scope "never.defined:write" is not defined.');
    });

    it('should refuse a scope description over 1000 characters', async () => {
      const response = await asAdmin(Q.defineScope, {
        input: { name: `${unique('long').replace('-', '.')}:read`, description: 'x'.repeat(1001) },
      });

      await refused(response, 'BAD_USER_INPUT', 'description must be at most 1000 characters.');
    });
  });

  describe('resources', () => {
    it.each([
      ['blank', '  ', 'resource must not be blank'],
      ['padded', ' eu-1', 'resource must not be blank or padded'],
      ['a * inside', 'eu-*-1', 'may contain "*" only as its last character'],
      ['a control character', 'eu\u00071', 'resource must not contain control characters.'],
      ['more than 512 characters', 'r'.repeat(513), 'resource must be at most 512 characters.'],
    ])('should refuse a grant on a resource with %s', async (_, resource, message) => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope, resource, reason: 'Test.' },
      });

      await refused(response, 'BAD_USER_INPUT', message);
    });
  });

  describe('lifetimes', () => {
    const ttls: [string, number][] = [
      ['negative', -5],
      ['zero', 0],
      ['more than five years', FIVE_YEARS + 1],
      ['the largest Int', 2_147_483_647],
    ];

    it.each(ttls)(
      'should refuse a grant with a %s ttlSeconds with BAD_USER_INPUT',
      async (_, ttlSeconds) => {
        const response = await asAdmin(Q.grant, {
          input: { identityId: target.id, scope, reason: 'Test.', ttlSeconds },
        });

        const error = await refused(
          response,
          'BAD_USER_INPUT',
          `ttlSeconds for the grant must be a whole number from 1 to ${FIVE_YEARS}`,
        );
        expect(error.extensions?.field).toBe('ttlSeconds');
      },
    );

    it.each(ttls)(
      'should refuse an API key with a %s ttlSeconds with BAD_USER_INPUT',
      async (_, ttlSeconds) => {
        const response = await asAdmin(Q.createApiKey, {
          input: { identityId: target.id, name: unique('k'), ttlSeconds },
        });

        await refused(
          response,
          'BAD_USER_INPUT',
          `ttlSeconds for the API key must be a whole number from 1 to ${FIVE_YEARS}`,
        );
      },
    );

    it('should refuse a ttlSeconds beyond 32 bits with BAD_USER_INPUT', async () => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope, reason: 'Test.', ttlSeconds: 99_999_999_999 },
      });

      await refused(response, 'BAD_USER_INPUT', 'ttlSeconds');
      expect(response.status).toBe(400);
    });

    it('should refuse both ttlSeconds and expiresAt with BAD_USER_INPUT', async () => {
      const response = await asAdmin(Q.grant, {
        input: {
          identityId: target.id,
          scope,
          reason: 'Test.',
          ttlSeconds: 60,
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });

      await refused(
        response,
        'BAD_USER_INPUT',
        'Give either ttlSeconds or expiresAt for the grant, not both.',
      );
    });

    it('should refuse an expiresAt in the past with BAD_USER_INPUT', async () => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope, reason: 'Test.', expiresAt: '2020-01-01T00:00:00Z' },
      });

      const error = await refused(
        response,
        'BAD_USER_INPUT',
        'expiresAt for the grant (2020-01-01T00:00:00.000Z) is not in the future.',
      );
      expect(error.extensions?.field).toBe('expiresAt');
    });

    it.each([
      ['February 30th', '2027-02-30T00:00:00Z'],
      ['April 31st', '2027-04-31T10:00:00Z'],
      ["24 o'clock", '2027-01-01T24:00:00Z'],
    ])(
      'should refuse an expiresAt on %s (a date that does not exist) with BAD_USER_INPUT',
      async (_, expiresAt) => {
        const response = await asAdmin(Q.grant, {
          input: { identityId: target.id, scope, reason: 'Test.', expiresAt },
        });

        await refused(response, 'BAD_USER_INPUT', 'is not a real instant');
      },
    );

    it('should refuse an expiresAt more than five years away with BAD_USER_INPUT', async () => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope, reason: 'Test.', expiresAt: '2999-01-01T00:00:00Z' },
      });

      await refused(
        response,
        'BAD_USER_INPUT',
        'expiresAt for the grant is more than five years away.',
      );
    });

    it.each([
      ['a word', 'tomorrow'],
      ['a date without time', '2030-01-01'],
      ['a time without zone', '2030-01-01T00:00:00'],
      ['an impossible date', '2030-13-45T00:00:00Z'],
      ['a number', 1_900_000_000],
    ])('should refuse %s as a DateTime variable with BAD_USER_INPUT', async (_, expiresAt) => {
      const response = await asAdmin(Q.grant, {
        input: { identityId: target.id, scope, reason: 'Test.', expiresAt },
      });

      await refused(response, 'BAD_USER_INPUT', /DateTime/);
    });

    it('should refuse a malformed DateTime literal in the document as a validation failure', async () => {
      const response = await asAdmin(
        `mutation { grant(input: { identityId: "${target.id}", scope: "${scope}", reason: "Test.", expiresAt: "soon" }) { id } }`,
      );

      await refused(
        response,
        'GRAPHQL_VALIDATION_FAILED',
        'DateTime must be an ISO 8601 string with a time zone, like 2026-11-28T09:00:00Z; got "soon".',
      );
      expect(response.status).toBe(400);
    });
  });

  describe('duplicates', () => {
    it('should refuse a second identity with the same name with CONFLICT naming it', async () => {
      const name = unique('twin');
      const first = await createIdentity(server, { name });
      before = await snapshot(server);

      const response = await asAdmin(Q.createIdentity, { input: { name, kind: 'USER' } });

      const error = await refused(
        response,
        'CONFLICT',
        `An identity named "${name}" already exists.`,
      );
      expect(error.extensions?.existingId).toBe(first.id);
    });

    it('should refuse a second identity with the same externalId with CONFLICT naming it', async () => {
      const externalId = unique('ext');
      const first = await createIdentity(server, { externalId });
      before = await snapshot(server);

      const response = await asAdmin(Q.createIdentity, {
        input: { name: unique('other'), kind: 'USER', externalId },
      });

      const error = await refused(
        response,
        'CONFLICT',
        `An identity with externalId "${externalId}" already exists.`,
      );
      expect(error.extensions?.existingId).toBe(first.id);
    });

    it('should refuse defining a scope twice with CONFLICT naming it', async () => {
      const response = await asAdmin(Q.defineScope, { input: { name: scope } });

      await refused(response, 'CONFLICT', `Scope "${scope}" is already defined.`);
    });

    it('should refuse redefining a built-in scope with BAD_USER_INPUT', async () => {
      const response = await asAdmin(Q.defineScope, { input: { name: 'grants:read' } });

      await refused(response, 'BAD_USER_INPUT', 'Resource "grants" is reserved');
    });

    it('should refuse a second active grant of the same scope and resource with CONFLICT', async () => {
      const holder = await identityWithGrants(server, [{ scope, resource: 'dup-1' }]);
      before = await snapshot(server);

      const response = await asAdmin(Q.grant, {
        input: { identityId: holder.id, scope, resource: 'dup-1', reason: 'Again.' },
      });

      const error = await refused(
        response,
        'CONFLICT',
        `Identity "${holder.name}" already holds an active grant of "${scope}" on resource "dup-1"`,
      );
      expect(error.extensions?.existingId).toBe(holder.grants[0]?.id);
    });

    it('should refuse a second live key with the same name with CONFLICT naming it', async () => {
      const owner = await createIdentity(server);
      await createKey(server, owner.id, { name: 'ci' });
      before = await snapshot(server);

      const response = await asAdmin(Q.createApiKey, {
        input: { identityId: owner.id, name: 'ci' },
      });

      await refused(response, 'CONFLICT', 'The identity already has a live API key named "ci".');
    });

    it('should refuse revoking a grant twice with CONFLICT', async () => {
      const holder = await identityWithGrants(server, [scope]);
      const id = holder.grants[0]?.id;
      dataOf(await asAdmin(Q.revokeGrant, { id, reason: 'Once.' }));
      before = await snapshot(server);

      await refused(
        await asAdmin(Q.revokeGrant, { id, reason: 'Twice.' }),
        'CONFLICT',
        `Grant ${id} was already revoked at`,
      );
    });

    it('should refuse revoking a key twice with CONFLICT', async () => {
      const owner = await identityWithGrants(server, []);
      dataOf(await asAdmin(Q.revokeApiKey, { id: owner.keyId }));
      before = await snapshot(server);

      await refused(
        await asAdmin(Q.revokeApiKey, { id: owner.keyId }),
        'CONFLICT',
        `API key ${owner.key.slice(0, 11)} was already revoked at`,
      );
    });
  });

  describe('disabled identities', () => {
    it('should refuse to grant to or make keys for a disabled identity with CONFLICT', async () => {
      const gone = await createIdentity(server);
      dataOf(await asAdmin(Q.disableIdentity, { id: gone.id }));
      before = await snapshot(server);

      await refused(
        await asAdmin(Q.grant, { input: { identityId: gone.id, scope, reason: 'Test.' } }),
        'CONFLICT',
        `Identity "${gone.name}" is disabled; it cannot receive grants.`,
      );
      await refused(
        await asAdmin(Q.createApiKey, { input: { identityId: gone.id, name: 'k' } }),
        'CONFLICT',
        `Identity "${gone.name}" is disabled; it cannot get API keys.`,
      );
    });
  });

  describe('text fields', () => {
    it.each([
      ['an empty name', { name: '', kind: 'USER' }, 'Identity name must not be empty.'],
      ['a blank name', { name: '   ', kind: 'USER' }, 'Identity name must not be empty.'],
      [
        'a name over 200 characters',
        { name: 'n'.repeat(201), kind: 'USER' },
        'Identity name must be at most 200 characters.',
      ],
      [
        'a name with a control character',
        { name: 'a\u0000b', kind: 'USER' },
        'Identity name must not contain control characters.',
      ],
      [
        'a blank externalId',
        { name: 'blank-ext', kind: 'USER', externalId: ' ' },
        'externalId must not be empty.',
      ],
    ])('should refuse an identity with %s with BAD_USER_INPUT', async (_, input, message) => {
      await refused(await asAdmin(Q.createIdentity, { input }), 'BAD_USER_INPUT', message);
    });

    it('should refuse an API key with a blank name with BAD_USER_INPUT', async () => {
      await refused(
        await asAdmin(Q.createApiKey, { input: { identityId: target.id, name: ' ' } }),
        'BAD_USER_INPUT',
        'API key name must not be empty.',
      );
    });
  });

  describe('pagination', () => {
    it.each([0, -1, 501])('should refuse first: %s with BAD_USER_INPUT', async (first) => {
      const identities = await asAdmin(Q.identities, { first });
      const grants = await asAdmin(Q.grants, { first });

      await refused(
        identities,
        'BAD_USER_INPUT',
        `first must be a whole number from 1 to 500; got ${first}.`,
      );
      await refused(
        grants,
        'BAD_USER_INPUT',
        `first must be a whole number from 1 to 500; got ${first}.`,
      );
    });

    it.each(['garbage', 'WyJub3QtYS1kYXRlIiwieCJd', ''])(
      'should refuse the cursor "%s" with BAD_USER_INPUT',
      async (after) => {
        await refused(
          await asAdmin(Q.identities, { after }),
          'BAD_USER_INPUT',
          '"after" is not a cursor this API returned.',
        );
      },
    );
  });

  describe('GraphQL types', () => {
    it.each([
      ['a string for an Int', Q.identities, { first: 'ten' }],
      ['a float for an Int', Q.identities, { first: 1.5 }],
      ['an unknown enum value', Q.createIdentity, { input: { name: 'robot', kind: 'ROBOT' } }],
      ['a missing required field', Q.createIdentity, { input: { kind: 'USER' } }],
      [
        'an unknown input field',
        Q.createIdentity,
        { input: { name: 'x', kind: 'USER', admin: true } },
      ],
      ['null for a required id', Q.disableIdentity, { id: null }],
      ['an object for a String', Q.check, { id: UNKNOWN_ID, scope: { name: 'grants:read' } }],
      [
        'a string for a Boolean',
        Q.grant,
        { input: { identityId: UNKNOWN_ID, scope: 'a:read', reason: 'x', grantable: 'yes' } },
      ],
    ])(
      'should refuse %s in variables with BAD_USER_INPUT, HTTP 400',
      async (_, query, variables) => {
        const response = await asAdmin(query, variables as Record<string, unknown>);

        await refused(response, 'BAD_USER_INPUT');
        expect(response.status).toBe(400);
        expect(response.body.data ?? null).toBeNull();
      },
    );
  });

  it('should leave nothing half-written when a grant is refused late in its transaction', async () => {
    const holder = await identityWithGrants(server, [{ scope, resource: 'late-1' }]);
    before = await snapshot(server);

    // Passes every check before the duplicate lookup, inside the transaction.
    const response = await asAdmin(Q.grant, {
      input: { identityId: holder.id, scope, resource: 'late-1', reason: 'Late.', grantable: true },
    });

    await refused(response, 'CONFLICT');
    await grant(server, holder.id, { scope, resource: 'late-2' });
  });
});

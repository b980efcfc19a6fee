import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { gql } from '../fixtures/gql.js';
import { identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

// Issue 20.1: a denied field is null with FORBIDDEN at its path, and the rest of the response
// stands, for Keyholder's own schema too (its deniable fields are nullable).
describe.each(engines())('partial results on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should answer the allowed root fields of an operation that mixes allowed and denied ones', async () => {
    const reader = await identityWithGrants(server, ['identities:read']);

    const response = await gql(
      server.url,
      reader.key,
      '{ me { id } identities(first: 1) { nodes { id } } scopes { name } grants(first: 1) { nodes { id } } }',
    );

    const data = response.body.data as Record<string, unknown>;
    expect(data.me).toEqual({ id: reader.id });
    expect((data.identities as { nodes: unknown[] }).nodes).toHaveLength(1);
    expect(data.scopes).toBeNull();
    expect(data.grants).toBeNull();
    const errors = response.body.errors ?? [];
    expect(errors.map((e) => [e.path, e.extensions?.code])).toEqual(
      expect.arrayContaining([
        [['scopes'], 'FORBIDDEN'],
        [['grants'], 'FORBIDDEN'],
      ]),
    );
    expect(errors).toHaveLength(2);
  });

  it("should keep the allowed parts of an object whose nested field is denied (another identity's grants)", async () => {
    const reader = await identityWithGrants(server, ['identities:read']);
    const other = await identityWithGrants(server, ['identities:read']);

    const response = await gql(
      server.url,
      reader.key,
      'query($id: ID!) { identity(id: $id) { id name grants { id } apiKeys { id } } me { grants { id } } }',
      { id: other.id },
    );

    const data = response.body.data as {
      identity: { id: string; name: string; grants: unknown; apiKeys: unknown[] };
      me: { grants: { id: string }[] };
    };
    expect(data.identity).toMatchObject({ id: other.id, name: other.name, grants: null });
    expect(data.identity.apiKeys).toHaveLength(1);
    // Its own grants, through self access.
    expect(data.me.grants.map((g) => g.id)).toEqual(reader.grants.map((g) => g.id));
    expect((response.body.errors ?? []).map((e) => [e.path, e.extensions?.code])).toEqual([
      [['identity', 'grants'], 'FORBIDDEN'],
    ]);
  });

  it('should leave a denied mutation null beside an allowed one, with no side effect', async () => {
    const writer = await identityWithGrants(server, ['identities:write', 'identities:read']);

    const response = await gql(
      server.url,
      writer.key,
      `mutation {
        made: createIdentity(input: { name: "partial-${Date.now()}", kind: SERVICE }) { id }
        scope: defineScope(input: { name: "partial.x:read", description: "no" }) { name }
      }`,
    );

    const data = response.body.data as { made: { id: string } | null; scope: unknown };
    expect(data.made?.id).toEqual(expect.any(String));
    expect(data.scope).toBeNull();
    expect((response.body.errors ?? []).map((e) => [e.path, e.extensions?.code])).toEqual([
      [['scope'], 'FORBIDDEN'],
    ]);
    const scopes = await gql(
      server.url,
      server.adminKey,
      '{ scope(name: "partial.x:read") { name } }',
    );
    expect((scopes.body.data as { scope: unknown }).scope).toBeNull();
  });
});

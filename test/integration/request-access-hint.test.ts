import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { identityWithGrants } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const REQUEST = `mutation($input: RequestAccessInput!) {
  requestAccess(input: $input) { status resource ttlSeconds }
}`;
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name }
}`;

interface Hint {
  scope: string;
  resource: string | null;
  ttlSeconds: number;
  requiresApproval: boolean;
  autoApproved: boolean;
}

// Issue 16.5: every denial offers the way in. A FORBIDDEN error carries the exact requestAccess
// input that would ask for what was missing, so a tool can turn it into a one-click request.
describe.each(engines())('requestAccess hints on denials on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const hintOf = (response: Awaited<ReturnType<typeof gql>>, path: string) => {
    const error = (response.body.errors ?? []).find((e) => e.path?.join('.') === path);
    expect(error?.extensions?.code).toBe('FORBIDDEN');
    return error?.extensions?.requestAccess as Hint | undefined;
  };

  it('should carry the missing scope with the default TTL, and the hint should work as a request', async () => {
    const reader = await identityWithGrants(server, ['identities:read']);

    const response = await gql(server.url, reader.key, '{ me { id } scopes { name } }');

    const hint = hintOf(response, 'scopes');
    expect(hint).toEqual({
      scope: 'scopes:read',
      resource: null,
      ttlSeconds: 3600,
      requiresApproval: false,
      autoApproved: false,
    });
    const { scope, resource, ttlSeconds } = hint as Hint;
    const asked = dataOf(
      await gql(server.url, reader.key, REQUEST, {
        input: { scope, resource, ttlSeconds, reason: 'Need to see the catalogue.' },
      }),
    );
    expect(asked.requestAccess).toEqual({
      status: 'PENDING',
      resource: null,
      ttlSeconds: 3600,
    });
  });

  it("should name the resource a per-value denial was about, and the scope policy's longest TTL", async () => {
    dataOf(
      await gql(server.url, server.adminKey, SET_POLICY, {
        scope: 'groups:read',
        input: { maxTtlSeconds: 900 },
      }),
    );
    const name = `hint-team-${Date.now()}`;
    const created = dataOf(
      await gql(
        server.url,
        server.adminKey,
        'mutation($input: CreateGroupInput!) { createGroup(input: $input) { id } }',
        { input: { name } },
      ),
    ) as { createGroup: { id: string } };
    const reader = await identityWithGrants(server, [
      { scope: 'groups:read', resource: 'other', ttlSeconds: 600 },
    ]);

    const response = await gql(
      server.url,
      reader.key,
      'query($id: ID!) { group(id: $id) { id } }',
      {
        id: created.createGroup.id,
      },
    );

    expect(hintOf(response, 'group.id')).toEqual({
      scope: 'groups:read',
      resource: name,
      ttlSeconds: 900,
      requiresApproval: false,
      autoApproved: false,
    });
  });

  it('should say when the auto-approval condition would approve the request at once', async () => {
    dataOf(
      await gql(server.url, server.adminKey, SET_POLICY, {
        scope: 'audit:read',
        input: { maxTtlSeconds: 600, autoApprove: 'accessRequest.ttlSeconds <= 600' },
      }),
    );
    const reader = await identityWithGrants(server, ['identities:read']);

    const denied = await gql(server.url, reader.key, '{ auditEvents(first: 1) { nodes { id } } }');

    const hint = hintOf(denied, 'auditEvents') as Hint;
    expect(hint).toMatchObject({ scope: 'audit:read', ttlSeconds: 600, autoApproved: true });
    const asked = dataOf(
      await gql(server.url, reader.key, REQUEST, {
        input: { scope: hint.scope, ttlSeconds: hint.ttlSeconds, reason: 'Investigate INC-7.' },
      }),
    );
    expect(asked.requestAccess).toMatchObject({ status: 'APPROVED' });
    const allowed = await gql(server.url, reader.key, '{ auditEvents(first: 1) { nodes { id } } }');
    expect(allowed.body.errors).toBeUndefined();
  });

  it('should offer no request when a grant was held but its condition refused it', async () => {
    const reader = await identityWithGrants(server, [
      'identities:read',
      { scope: 'scopes:read', condition: 'request.ip == "203.0.113.9"' },
    ]);

    const response = await gql(server.url, reader.key, '{ scopes { name } }');

    expect(hintOf(response, 'scopes')).toBeUndefined();
    const error = response.body.errors?.[0];
    expect(error?.extensions?.conditions).toBeDefined();
  });

  it("should carry the hint in an AuthZEN denial's context", async () => {
    const pep = await identityWithGrants(server, ['decisions:execute']);
    const subject = await identityWithGrants(server, []);

    const response = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pep.key}` },
      body: JSON.stringify({
        subject: { type: 'identity', id: subject.id },
        action: { name: 'identities:read' },
        resource: { type: 'identity', id: 'someone' },
      }),
    });

    expect(response.status).toBe(200);
    const body = (await response.json()) as { decision: boolean; context: Record<string, unknown> };
    expect(body.decision).toBe(false);
    expect(body.context.request_access).toEqual({
      scope: 'identities:read',
      resource: 'someone',
      ttl_seconds: 3600,
      requires_approval: false,
      auto_approved: false,
    });
  });
});

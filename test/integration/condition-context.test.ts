import type { ClientOptions } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readConfig } from '../../src/config.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql, readResponse } from '../fixtures/gql.js';
import { type SigningKey, signingKey, signToken } from '../fixtures/identity-provider.js';
import {
  createIdentity,
  defineScope,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { bearer, OperationRecorder, openWsClient, type WsClient, within } from '../fixtures/ws.js';

/** Every test server listens on 127.0.0.1, so that is every request's peer address. */
const PROXIED = {
  TRUSTED_PROXIES: '127.0.0.1/32',
  CLIENT_IP_HEADER: 'x-forwarded-for',
  DEVICE_HEADER: 'x-device-posture',
  CONDITION_HEADERS: 'x-team',
  CONDITION_TIME_ZONE: 'Asia/Tokyo',
};
/** The peer is not a trusted proxy here: only some other range is. */
const UNTRUSTED = {
  TRUSTED_PROXIES: '192.0.2.0/24',
  CLIENT_IP_HEADER: 'x-forwarded-for',
  DEVICE_HEADER: 'x-device-posture',
};

/** POSTs one operation as `key`, with extra request headers. */
async function gqlWith(
  server: TestServer,
  key: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<GqlResponse> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return readResponse(response);
}

const CHECK = `query($id: ID!, $scope: String!, $resource: String, $context: CheckContextInput) {
  check(identityId: $id, scope: $scope, resource: $resource, context: $context) {
    allowed reason conditions { source expression result error values }
  }
}`;

interface Decision {
  allowed: boolean;
  reason: string;
  conditions: { expression: string; result: string; values: Record<string, unknown> }[];
}

/** `check` as `key` (the holder asking about itself unless `about` says), with request headers. */
async function check(
  server: TestServer,
  key: string,
  about: string,
  scope: string,
  options: {
    resource?: string;
    context?: Record<string, unknown>;
    headers?: Record<string, string>;
  } = {},
): Promise<Decision> {
  const response = await gqlWith(
    server,
    key,
    CHECK,
    { id: about, scope, resource: options.resource ?? null, context: options.context ?? null },
    options.headers ?? {},
  );
  return (dataOf(response) as { check: Decision }).check;
}

/** A new scope and an identity holding it under `condition`. */
async function holderUnder(
  server: TestServer,
  condition: string,
  kind: 'USER' | 'SERVICE' = 'SERVICE',
): Promise<{ holder: SeededPrincipal; scope: string }> {
  const scope = await defineScope(server);
  const holder = await identityWithGrants(server, [{ scope, condition }], { kind });
  return { holder, scope };
}

/** A client whose WebSocket upgrade request carries `headers`. */
function wsClientWith(server: TestServer, key: string, headers: Record<string, string>): WsClient {
  class WithHeaders extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  return openWsClient(server.url, bearer(key), {
    webSocketImpl: WithHeaders,
  } as Partial<ClientOptions>);
}

const ISSUER = 'https://sso.context.example';
const AUDIENCE = 'keyholder';

const start = (engine: 'pglite' | 'postgres', env: Record<string, string>) => {
  const { conditions, oidcIssuers } = readConfig(env);
  return startTestServer(engine, {
    ...(conditions === undefined ? {} : { conditions }),
    ...(oidcIssuers === undefined ? {} : { oidcIssuers }),
  });
};

describe.each(engines())('the condition context on %s', (engine) => {
  let proxied: TestServer;
  let direct: TestServer;
  let untrusted: TestServer;

  beforeAll(async () => {
    [proxied, direct, untrusted] = await Promise.all([
      start(engine, PROXIED),
      start(engine, {}),
      start(engine, UNTRUSTED),
    ]);
  });

  afterAll(async () => {
    await Promise.all([proxied?.stop(), direct?.stop(), untrusted?.stop()]);
  });

  describe('request.ip', () => {
    it('should be the peer address when no proxy is trusted', async () => {
      const inLoopback = await holderUnder(direct, 'cidr(request.ip, "127.0.0.0/8")');
      const inTen = await holderUnder(direct, 'cidr(request.ip, "10.0.0.0/8")');

      const allowed = await check(
        direct,
        inLoopback.holder.key,
        inLoopback.holder.id,
        inLoopback.scope,
      );
      const denied = await check(direct, inTen.holder.key, inTen.holder.id, inTen.scope);

      expect(allowed.allowed).toBe(true);
      expect(allowed.conditions.map((c) => c.result)).toEqual(['TRUE']);
      expect(denied.allowed).toBe(false);
      expect(denied.conditions[0]?.values).toEqual({ 'request.ip': '127.0.0.1' });
      expect(denied.reason).toContain('request.ip = "127.0.0.1"');
    });

    it("should be a trusted proxy's X-Forwarded-For client address", async () => {
      const { holder, scope } = await holderUnder(proxied, 'cidr(request.ip, "10.0.0.0/8")');

      const forwarded = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });
      const notForwarded = await check(proxied, holder.key, holder.id, scope);

      expect(forwarded.allowed).toBe(true);
      expect(notForwarded.allowed).toBe(false);
      expect(notForwarded.conditions[0]?.values).toEqual({ 'request.ip': '127.0.0.1' });
    });

    it('should skip trusted proxies from the right, and leave the address unknown after a malformed entry', async () => {
      const { holder, scope } = await holderUnder(proxied, 'request.ip == "10.1.2.3"');

      const chained = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-forwarded-for': '192.0.2.9, 10.1.2.3, 127.0.0.1' },
      });
      const malformed = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-forwarded-for': '10.1.2.3, garbage' },
      });

      expect(chained.allowed).toBe(true);
      expect(malformed.allowed).toBe(false);
      // Not the proxy's own address: that could satisfy a condition the client cannot.
      expect(malformed.conditions[0]?.values).toEqual({ 'request.ip': '' });
    });

    it('should ignore X-Forwarded-For on a server that trusts no proxy', async () => {
      const { holder, scope } = await holderUnder(direct, 'cidr(request.ip, "10.0.0.0/8")');

      const decision = await check(direct, holder.key, holder.id, scope, {
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });

      expect(decision.allowed).toBe(false);
      expect(decision.conditions[0]?.values).toEqual({ 'request.ip': '127.0.0.1' });
    });

    it('should ignore a forged X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const { holder, scope } = await holderUnder(untrusted, 'cidr(request.ip, "10.0.0.0/8")');

      const decision = await check(untrusted, holder.key, holder.id, scope, {
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });

      expect(decision.allowed).toBe(false);
      expect(decision.conditions[0]?.values).toEqual({ 'request.ip': '127.0.0.1' });
    });

    it('should record the resolved client address, and the peer, in the audit log', async () => {
      const response = await gqlWith(
        proxied,
        proxied.adminKey,
        'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        { input: { name: `forwarded-${Date.now()}`, kind: 'SERVICE' } },
        { 'x-forwarded-for': '10.1.2.3', 'x-team': 'sec' },
      );
      const id = (dataOf(response) as { createIdentity: { id: string } }).createIdentity.id;

      const [row] = await proxied.database.query<{ details: { request: unknown } }>(
        `select details from audit_events where action = 'identity.created' and subject_id = $1`,
        [id],
      );

      expect(row?.details.request).toMatchObject({
        clientIp: '10.1.2.3',
        peerIp: '127.0.0.1',
        headers: { 'x-team': 'sec' },
      });
    });
  });

  describe('request.headers and request.userAgent', () => {
    it('should read an allow-listed header', async () => {
      const { holder, scope } = await holderUnder(proxied, 'request.headers["x-team"] == "sec"');

      const sec = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-team': 'sec' },
      });
      const ops = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-team': 'ops' },
      });
      const none = await check(proxied, holder.key, holder.id, scope);

      expect(sec.allowed).toBe(true);
      expect(ops.allowed).toBe(false);
      expect(ops.conditions[0]).toMatchObject({
        result: 'FALSE',
        values: { 'request.headers["x-team"]': 'ops' },
      });
      expect(none.allowed).toBe(false);
      expect(none.conditions[0]?.result).toBe('ERROR');
    });

    it('should not offer a header that is not allow-listed', async () => {
      const { holder, scope } = await holderUnder(proxied, '"x-region" in request.headers');

      const decision = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-region': 'eu', 'x-team': 'sec' },
      });

      expect(decision.allowed).toBe(false);
    });

    it('should read the user agent', async () => {
      const { holder, scope } = await holderUnder(
        proxied,
        'request.userAgent.startsWith("billing-batch/")',
      );

      const batch = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'user-agent': 'billing-batch/2.1' },
      });
      const browser = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'user-agent': 'Mozilla/5.0' },
      });

      expect(batch.allowed).toBe(true);
      expect(browser.allowed).toBe(false);
      expect(browser.conditions[0]?.values).toEqual({ 'request.userAgent': 'Mozilla/5.0' });
    });

    it("should deny a guarded field of Keyholder's own schema with the condition in extensions", async () => {
      const holder = await identityWithGrants(proxied, [
        { scope: 'identities:read', condition: 'request.headers["x-team"] == "ops"' },
      ]);
      const query = '{ identities(first: 1) { nodes { id } } }';

      const denied = await gqlWith(proxied, holder.key, query, {}, { 'x-team': 'sec' });
      const allowed = await gqlWith(proxied, holder.key, query, {}, { 'x-team': 'ops' });

      const error = expectError(denied, 'FORBIDDEN');
      expect(error.path).toEqual(['identities']);
      expect(error.message).toContain('request.headers["x-team"] == "ops"');
      expect(error.extensions?.conditions).toEqual([
        expect.objectContaining({
          scope: 'identities:read',
          result: 'FALSE',
          values: { 'request.headers["x-team"]': 'sec' },
        }),
      ]);
      expect(dataOf(allowed)).toMatchObject({ identities: { nodes: expect.any(Array) } });
    });
  });

  describe('request.hour and request.weekday', () => {
    it('should tell the hour and weekday in CONDITION_TIME_ZONE', async () => {
      const { holder, scope } = await holderUnder(
        proxied,
        'request.weekday == 2 && request.hour == 5',
      );
      // Monday 20:30 in UTC is Tuesday 05:30 in Tokyo; Monday 03:00 in UTC is Monday 12:00 there.
      const tuesdayMorningInTokyo = await check(proxied, proxied.adminKey, holder.id, scope, {
        context: { time: '2026-03-02T20:30:00Z' },
      });
      const mondayNoonInTokyo = await check(proxied, proxied.adminKey, holder.id, scope, {
        context: { time: '2026-03-02T03:00:00Z' },
      });

      expect(tuesdayMorningInTokyo.allowed).toBe(true);
      expect(mondayNoonInTokyo.allowed).toBe(false);
      expect(mondayNoonInTokyo.conditions[0]?.values).toEqual({
        'request.weekday': 1,
        'request.hour': 12,
      });
    });

    it('should tell them in UTC by default', async () => {
      const { holder, scope } = await holderUnder(
        direct,
        'request.weekday == 1 && request.hour == 20',
      );

      const decision = await check(direct, direct.adminKey, holder.id, scope, {
        context: { time: '2026-03-02T20:30:00Z' },
      });

      expect(decision.allowed).toBe(true);
    });
  });

  describe('device', () => {
    const MANAGED = JSON.stringify({ managed: true, os: 'macos' });

    it("should read a trusted proxy's device posture header", async () => {
      const { holder, scope } = await holderUnder(
        proxied,
        'device.managed == true && device.os == "macos"',
      );

      const managed = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-device-posture': MANAGED },
      });
      const unmanaged = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-device-posture': JSON.stringify({ managed: false, os: 'macos' }) },
      });
      const malformed = await check(proxied, holder.key, holder.id, scope, {
        headers: { 'x-device-posture': '{"managed": tru' },
      });

      expect(managed.allowed).toBe(true);
      expect(unmanaged.allowed).toBe(false);
      expect(malformed.allowed).toBe(false);
      expect(malformed.conditions[0]?.result).toBe('ERROR');
    });

    it('should ignore a device posture header from a peer that is not a trusted proxy', async () => {
      const { holder, scope } = await holderUnder(untrusted, 'device.managed == true');

      const decision = await check(untrusted, holder.key, holder.id, scope, {
        headers: { 'x-device-posture': MANAGED },
      });

      expect(decision.allowed).toBe(false);
      expect(decision.conditions[0]).toMatchObject({
        result: 'ERROR',
        values: { 'device.managed': null },
      });
    });
  });

  describe('device from a token claim (DEVICE_CLAIM)', () => {
    let issuerKey: SigningKey;
    let claims: TestServer;

    beforeAll(async () => {
      issuerKey = await signingKey('context-1');
      claims = await start(engine, {
        TRUSTED_PROXIES: '127.0.0.1/32',
        DEVICE_HEADER: 'x-device-posture',
        DEVICE_CLAIM: 'device',
        OIDC_ISSUERS: JSON.stringify([
          { issuer: ISSUER, audience: AUDIENCE, keys: [issuerKey.publicJwk] },
        ]),
      });
    });

    afterAll(async () => {
      await claims?.stop();
    });

    /** A USER known by a token subject, holding a new scope under `device.managed == true`. */
    const tokenHolder = async () => {
      const sub = `sub-${Date.now()}-${Math.random().toString(16).slice(2)}`;
      const scope = await defineScope(claims);
      const identity = await createIdentity(claims, {
        kind: 'USER',
        externalId: `${ISSUER}|${sub}`,
      });
      dataOf(
        await gql(
          claims.url,
          claims.adminKey,
          'mutation($input: GrantInput!) { grant(input: $input) { id } }',
          {
            input: {
              identityId: identity.id,
              scope,
              reason: 'Managed devices only.',
              condition: 'device.managed == true',
            },
          },
        ),
      );
      const token = (device?: unknown) =>
        signToken(issuerKey, {
          iss: ISSUER,
          aud: AUDIENCE,
          sub,
          ...(device === undefined ? {} : { device }),
        });
      return { identity, scope, token };
    };

    it("should read the token's claim, which wins over a trusted proxy's header", async () => {
      const { identity, scope, token } = await tokenHolder();
      const unmanagedHeader = { 'x-device-posture': JSON.stringify({ managed: false }) };
      const managedHeader = { 'x-device-posture': JSON.stringify({ managed: true }) };

      const claimManaged = await check(claims, await token({ managed: true }), identity.id, scope, {
        headers: unmanagedHeader,
      });
      const claimUnmanaged = await check(
        claims,
        await token({ managed: false }),
        identity.id,
        scope,
        { headers: managedHeader },
      );

      expect(claimManaged.allowed).toBe(true);
      expect(claimUnmanaged.allowed).toBe(false);
      expect(claimUnmanaged.conditions[0]?.values).toEqual({ 'device.managed': false });
    });

    it('should fall back to the header when the token carries no such claim, or no object', async () => {
      const { identity, scope, token } = await tokenHolder();
      const managedHeader = { 'x-device-posture': JSON.stringify({ managed: true }) };

      const noClaim = await check(claims, await token(), identity.id, scope, {
        headers: managedHeader,
      });
      const notAnObject = await check(claims, await token('managed'), identity.id, scope, {
        headers: managedHeader,
      });

      expect(noClaim.allowed).toBe(true);
      expect(notAnObject.allowed).toBe(true);
    });
  });

  describe('identity', () => {
    const SET_ATTRIBUTES = `mutation($id: ID!, $attributes: JSON!) {
      setIdentityAttributes(id: $id, attributes: $attributes) { id attributes }
    }`;

    it('should read identity.attributes as set by setIdentityAttributes, from the next request on', async () => {
      const { holder, scope } = await holderUnder(
        proxied,
        'identity.attributes.department == "finance"',
      );
      const before = await check(proxied, holder.key, holder.id, scope);

      const set = dataOf(
        await gql(proxied.url, proxied.adminKey, SET_ATTRIBUTES, {
          id: holder.id,
          attributes: { department: 'finance', clearance: 3 },
        }),
      );
      const after = await check(proxied, holder.key, holder.id, scope);

      expect(before.allowed).toBe(false);
      expect(set.setIdentityAttributes).toEqual({
        id: holder.id,
        attributes: { department: 'finance', clearance: 3 },
      });
      expect(after.allowed).toBe(true);
      const events = await proxied.database.query<{
        actor_id: string;
        details: Record<string, unknown>;
      }>(
        `select actor_id::text, details from audit_events
          where action = 'identity.attributes_changed' and subject_id = $1`,
        [holder.id],
      );
      expect(events).toHaveLength(1);
      expect(events[0]?.actor_id).toBe(proxied.adminId);
      expect(events[0]?.details).toMatchObject({
        before: { attributes: {} },
        after: { attributes: { department: 'finance', clearance: 3 } },
      });
    });

    it('should take attributes at creation and show them on Identity', async () => {
      const response = await gql(
        proxied.url,
        proxied.adminKey,
        `mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id attributes } }`,
        {
          input: {
            name: `with-attributes-${Date.now()}`,
            kind: 'SERVICE',
            attributes: { team: 'sec' },
          },
        },
      );

      const created = (dataOf(response) as { createIdentity: { id: string; attributes: unknown } })
        .createIdentity;
      expect(created.attributes).toEqual({ team: 'sec' });
      const fresh = await createIdentity(proxied);
      const read = dataOf(
        await gql(
          proxied.url,
          proxied.adminKey,
          'query($id: ID!) { identity(id: $id) { attributes } }',
          {
            id: fresh.id,
          },
        ),
      );
      expect(read.identity).toEqual({ attributes: {} });
    });

    it('should refuse attributes that are not an object, or too many or too large, naming the field', async () => {
      const target = await createIdentity(proxied);
      const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
      const tooLarge = { blob: 'x'.repeat(8_200) };

      for (const [attributes, message] of [
        [['finance'], 'attributes must be a JSON object'],
        ['finance', 'attributes must be a JSON object'],
        [tooMany, 'attributes may have at most 50 keys; it has 51.'],
        [tooLarge, 'attributes may be at most 8192 bytes as JSON'],
      ] as const) {
        const response = await gql(proxied.url, proxied.adminKey, SET_ATTRIBUTES, {
          id: target.id,
          attributes,
        });
        const error = expectError(response, 'BAD_USER_INPUT', message);
        expect(error.extensions?.field).toBe('attributes');
      }
      const refusedAtCreation = await gql(
        proxied.url,
        proxied.adminKey,
        `mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }`,
        { input: { name: `bad-attributes-${Date.now()}`, kind: 'SERVICE', attributes: [1] } },
      );
      expect(expectError(refusedAtCreation, 'BAD_USER_INPUT').extensions?.field).toBe(
        'input.attributes',
      );
    });

    it('should need identities:write and identities:read to set attributes, and NOT_FOUND an unknown identity', async () => {
      const reader = await identityWithGrants(proxied, ['identities:read']);
      const target = await createIdentity(proxied);

      const forbidden = await gql(proxied.url, reader.key, SET_ATTRIBUTES, {
        id: target.id,
        attributes: { department: 'finance' },
      });
      const unknown = await gql(proxied.url, proxied.adminKey, SET_ATTRIBUTES, {
        id: '00000000-0000-4000-8000-000000000000',
        attributes: {},
      });

      expectError(forbidden, 'FORBIDDEN', 'identities:write');
      expectError(
        unknown,
        'NOT_FOUND',
        'Identity 00000000-0000-4000-8000-000000000000 does not exist.',
      );
    });

    it('should read identity.kind', async () => {
      const scope = await defineScope(proxied);
      const service = await identityWithGrants(
        proxied,
        [{ scope, condition: 'identity.kind == "SERVICE"' }],
        {
          kind: 'SERVICE',
        },
      );
      const user = await identityWithGrants(
        proxied,
        [{ scope, condition: 'identity.kind == "SERVICE"' }],
        {
          kind: 'USER',
        },
      );

      expect((await check(proxied, service.key, service.id, scope)).allowed).toBe(true);
      const denied = await check(proxied, user.key, user.id, scope);
      expect(denied.allowed).toBe(false);
      expect(denied.conditions[0]?.values).toEqual({ 'identity.kind': 'USER' });
    });
  });

  describe('resource and usage', () => {
    it('should read the resource decided', async () => {
      const { holder, scope } = await holderUnder(proxied, 'resource.startsWith("eu-")');

      const eu = await check(proxied, holder.key, holder.id, scope, { resource: 'eu-west-1' });
      const us = await check(proxied, holder.key, holder.id, scope, { resource: 'us-east-1' });

      expect(eu.allowed).toBe(true);
      expect(us.allowed).toBe(false);
      expect(us.conditions[0]?.values).toEqual({ resource: 'us-east-1' });
    });

    it('should count allowing checks in usage.lastMinute and deny the fourth under a limit of three', async () => {
      const { holder, scope } = await holderUnder(proxied, 'usage.lastMinute < 3');

      const decisions: Decision[] = [];
      for (let i = 0; i < 4; i++)
        decisions.push(await check(proxied, holder.key, holder.id, scope));

      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(decisions[3]?.reason).toContain('usage.lastMinute = 3');
    });
  });

  describe('over WebSocket', () => {
    const open: WsClient[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.dispose()));
    });

    const SUBSCRIPTION = 'subscription { auditEvents { action subjectId } }';

    it("should read the upgrade request's headers for a subscription's conditions", async () => {
      const auditor = await identityWithGrants(proxied, [
        { scope: 'audit:read', condition: 'request.headers["x-team"] == "sec"' },
      ]);
      const sec = wsClientWith(proxied, auditor.key, { 'x-team': 'sec' });
      const ops = wsClientWith(proxied, auditor.key, { 'x-team': 'ops' });
      open.push(sec, ops);
      await within(Promise.all([sec.acknowledged, ops.acknowledged]), 5000, 'connection_ack');

      const refused = new OperationRecorder(ops.client, SUBSCRIPTION);
      const live = new OperationRecorder<{ auditEvents: { action: string; subjectId: string } }>(
        sec.client,
        SUBSCRIPTION,
      );
      const ending = await within(refused.ended, 5000, 'the refusal');
      let delivered: { action: string; subjectId: string } | undefined;
      for (let attempt = 0; attempt < 20 && delivered === undefined; attempt++) {
        const marker = await createIdentity(proxied);
        const result = await live
          .waitFor((r) => r.data?.auditEvents?.subjectId === marker.id, 500, 'the marker event')
          .catch(() => undefined);
        delivered = result?.data?.auditEvents;
      }

      expect(ending).toEqual({ kind: 'complete' });
      const error = refused.results[0]?.errors?.[0];
      expect(error?.extensions?.code).toBe('FORBIDDEN');
      expect(error?.extensions?.conditions).toEqual([
        expect.objectContaining({ values: { 'request.headers["x-team"]': 'ops' } }),
      ]);
      expect(delivered?.action).toBe('identity.created');
      expect(live.ending).toBeUndefined();
    });
  });
});

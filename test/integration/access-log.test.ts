import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_UNAVAILABLE } from '../../src/server/access-log-plugin.js';
import {
  type AccessLogHealth,
  type AccessRow,
  accessEvents,
  accessLogHealth,
  barrier,
  blockAccessWrites,
  eventsOfRequest,
  health,
  requestIdOf,
  unblockAccessWrites,
} from '../fixtures/access-log.js';
import {
  createScratchDatabase,
  createScratchDataDir,
  type Engine,
  engines,
} from '../fixtures/engines.js';
import { eventually } from '../fixtures/eventually.js';
import { expectError, expectNoData } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
} from '../fixtures/seed.js';
import {
  ADMIN_KEY,
  countRows,
  type ServerOverrides,
  startTestServer,
  type TestServer,
} from '../fixtures/test-server.js';

interface AuditNode {
  id: string;
  seq: string;
  action: string;
  actorId: string | null;
  subjectId: string | null;
  details: { scopes?: string[] };
}

const SEARCH = `query Search($first: Int, $after: String, $filter: AuditFilter) {
  auditEvents(first: $first, after: $after, filter: $filter) {
    nodes { id seq action actorId subjectId details }
    pageInfo { hasNextPage endCursor }
  }
}`;

const VERIFY = '{ verifyAuditLog { ok checked } }';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface AuditPage {
  auditEvents: {
    nodes: AuditNode[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/** Every event matching `filter`, newest first, page by page. */
async function searchAll(
  server: TestServer,
  filter: Record<string, unknown>,
): Promise<AuditNode[]> {
  const nodes: AuditNode[] = [];
  let after: string | null = null;
  for (;;) {
    const response: GqlResponse<AuditPage> = await gql<AuditPage>(
      server.url,
      server.adminKey,
      SEARCH,
      { first: 500, filter, after },
    );
    const page = dataOf(response).auditEvents;
    nodes.push(...page.nodes);
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
}

/** The ids of the stored events matching a SQL condition, newest first (the search oracle). */
async function storedIds(
  server: TestServer,
  where: string,
  params: readonly unknown[] = [],
): Promise<string[]> {
  const rows = await server.database.query<{ id: string }>(
    `select id::text as id from audit_events where ${where} order by seq desc`,
    params,
  );
  return rows.map((r) => r.id);
}

async function verify(server: TestServer): Promise<{ ok: boolean; checked: number }> {
  return dataOf(
    await gql<{ verifyAuditLog: { ok: boolean; checked: number } }>(
      server.url,
      server.adminKey,
      VERIFY,
    ),
  ).verifyAuditLog;
}

/** The one access event of the HTTP request whose `x-request-id` is `requestId`, once written. */
async function eventOfRequest(server: TestServer, requestId: string): Promise<AccessRow> {
  const rows = await eventsOfRequest(server, requestId);
  const [row] = rows;
  if (row === undefined) throw new Error(`No access event for request ${requestId} was written.`);
  expect(rows).toHaveLength(1);
  return row;
}

/** Where a restarted server finds its data again: a PGlite directory or a PostgreSQL database. */
async function storage(
  engine: Engine,
): Promise<{ overrides: ServerOverrides; remove(): Promise<void> }> {
  if (engine === 'pglite') {
    const dataDir = await createScratchDataDir();
    return { overrides: { dataDir: dataDir.path }, remove: () => dataDir.remove() };
  }
  const database = await createScratchDatabase();
  return { overrides: { databaseUrl: database.url }, remove: () => database.drop() };
}

describe.each(engines())('access events on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine, { accessLog: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('what an operation records', () => {
    it('should write one access.allowed event naming the operation, the coordinates and the grants that allowed them', async () => {
      const reader = await identityWithGrants(server, ['identities:read']);
      const query = 'query ListIdentities { identities(first: 5) { nodes { id name } } }';

      await gql(server.url, reader.key, query);
      const events = await eventually(
        () => accessEvents(server, reader.id),
        (rows) => rows.length > 0,
      );

      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.action).toBe('access.allowed');
      expect(event?.details.operation).toEqual({
        name: 'ListIdentities',
        type: 'query',
        documentHash: createHash('sha256').update(query).digest('hex'),
        transport: 'http',
      });
      expect(event?.details.allowed).toContainEqual({
        coordinate: 'Query.identities',
        grantIds: [reader.grants[0]?.id],
      });
      expect(event?.details.denied).toEqual([]);
      expect(event?.details.scopes).toEqual(['identities:read']);
    });

    it('should write one access.denied event naming the coordinate, FORBIDDEN and the missing scope, and still leak no data', async () => {
      const outsider = await identityWithGrants(server, []);
      const query = 'query ListGrants { grants(first: 5) { nodes { id scope { name } } } }';

      const response = await gql(server.url, outsider.key, query);
      const event = await eventOfRequest(server, requestIdOf(response));
      const marker = await barrier(server, outsider.key);

      const error = expectError(response, 'FORBIDDEN', 'grants:read');
      expect(error.path).toEqual(['grants']);
      expectNoData(response);
      expect(response.body.errors).toHaveLength(1);
      expect(event.action).toBe('access.denied');
      expect(event.actor_id).toBe(outsider.id);
      expect(event.subject_id).toBeNull();
      expect(event.details.operation).toEqual({
        name: 'ListGrants',
        type: 'query',
        documentHash: sha256(query),
        transport: 'http',
      });
      expect(event.details.allowed).toEqual([]);
      expect(event.details.denied).toEqual([
        { coordinate: 'Query.grants', code: 'FORBIDDEN', reason: error.message, count: 1 },
      ]);
      expect(event.details.scopes).toEqual(['grants:read']);
      expect((await accessEvents(server, outsider.id)).map((e) => e.seq)).toEqual([
        event.seq,
        marker.seq,
      ]);
    });

    it('should write exactly one access.denied event, with both lists filled, for an operation with an allowed and a denied field', async () => {
      const reader = await identityWithGrants(server, ['identities:read']);
      const query = `query Mixed {
        identities(first: 1) { nodes { id } }
        a: scope(name: "identities:read") { name }
        b: scope(name: "grants:read") { name }
      }`;

      const response = await gql(server.url, reader.key, query);
      const event = await eventOfRequest(server, requestIdOf(response));
      await barrier(server, reader.key);

      expect(response.body.data?.identities.nodes).toHaveLength(1);
      expect(response.body.data?.a).toBeNull();
      expect(response.body.data?.b).toBeNull();
      expect(response.body.errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
        ['FORBIDDEN', ['a']],
        ['FORBIDDEN', ['b']],
      ]);
      expect((await accessEvents(server, reader.id)).map((e) => e.seq)).toEqual([
        event.seq,
        expect.any(String),
      ]);
      expect(event.action).toBe('access.denied');
      expect(event.details.allowed).toContainEqual({
        coordinate: 'Query.identities',
        grantIds: [reader.grants[0]?.id],
      });
      // A scope-only requirement is decided once per coordinate per operation, aliases included.
      expect(event.details.denied).toEqual([
        {
          coordinate: 'Query.scope',
          code: 'FORBIDDEN',
          reason: expect.stringContaining('scopes:read'),
          count: 1,
        },
      ]);
      expect(event.details.scopes).toEqual(['identities:read', 'scopes:read']);
    });

    it('should write one event per operation for per-value decisions over a list, counting the denied values', async () => {
      const scope = await defineScope(server);
      const reader = await identityWithGrants(server, ['grants:read', scope]);
      for (let i = 0; i < 3; i++) {
        const other = await createIdentity(server);
        await grant(server, other.id, { scope });
      }
      const query = `query Holders($scope: String!) {
        grants(first: 50, filter: { scope: $scope }) { nodes { id identity { id } } }
      }`;

      const response = await gql(server.url, reader.key, query, { scope });
      const event = await eventOfRequest(server, requestIdOf(response));
      await barrier(server, reader.key);

      // The admin's definer grant, the reader's own and three others: only its own identity is readable.
      const nodes = response.body.data?.grants.nodes as { identity: { id: string } | null }[];
      expect(nodes).toHaveLength(5);
      expect(nodes.filter((n) => n.identity !== null)).toEqual([
        { id: expect.any(String), identity: { id: reader.id } },
      ]);
      const denials = response.body.errors ?? [];
      expect(denials).toHaveLength(4);
      expect(denials.every((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
      expect(await accessEvents(server, reader.id)).toHaveLength(2);
      expect(event.action).toBe('access.denied');
      expect(event.details.denied).toEqual([
        {
          coordinate: 'Identity.id',
          code: 'FORBIDDEN',
          reason: expect.stringContaining('identities:read'),
          count: 4,
        },
      ]);
      const readGrant = reader.grants.find((g) => g.scope === 'grants:read')?.id;
      expect(event.details.allowed).toEqual(
        expect.arrayContaining([
          { coordinate: 'Query.grants', grantIds: [readGrant] },
          { coordinate: 'Grant.identity', grantIds: [readGrant] },
          // Its own identity is allowed by being it, not by a grant.
          { coordinate: 'Identity.id', grantIds: [] },
        ]),
      );
      expect(event.details.scopes).toEqual(['grants:read', 'identities:read']);
    });

    it('should write a mutation’s change event in its transaction and its access event after it', async () => {
      const scope = await defineScope(server);
      const delegate = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const grantee = await createIdentity(server);
      const query = `mutation Delegate($input: GrantInput!) { grant(input: $input) { id } }`;

      const response = await gql(server.url, delegate.key, query, {
        input: { identityId: grantee.id, scope, reason: 'Access log spec.' },
      });
      const granted = dataOf(response).grant.id as string;
      const changes = await server.database.query<{ seq: string }>(
        `select seq::text as seq from audit_events
         where action = 'grant.created' and actor_id = $1 and subject_id = $2`,
        [delegate.id, granted],
      );
      const event = await eventOfRequest(server, requestIdOf(response));

      expect(changes).toHaveLength(1);
      expect(Number(event.seq)).toBeGreaterThan(Number(changes[0]?.seq));
      expect(event.action).toBe('access.allowed');
      expect(event.actor_id).toBe(delegate.id);
      expect(event.details.operation).toEqual({
        name: 'Delegate',
        type: 'mutation',
        documentHash: sha256(query),
        transport: 'http',
      });
      const used = delegate.grants
        .filter((g) => g.scope === 'grants:write' || g.scope === 'grants:read')
        .map((g) => g.id)
        .sort();
      expect(event.details.allowed).toContainEqual({
        coordinate: 'Mutation.grant',
        grantIds: used,
      });
      expect(event.details.denied).toEqual([]);
      expect(event.details.scopes).toEqual(['grants:read', 'grants:write']);
    });

    it("should record the response's x-request-id, the caller's key id and a non-negative duration", async () => {
      const reader = await identityWithGrants(server, ['identities:read']);

      const response = await gql(
        server.url,
        reader.key,
        '{ identities(first: 1) { nodes { id } } }',
      );
      const requestId = requestIdOf(response);
      const event = await eventOfRequest(server, requestId);

      expect(event.actor_id).toBe(reader.id);
      expect(event.details.request).toMatchObject({
        requestId,
        clientIp: expect.stringMatching(/127\.0\.0\.1$/),
      });
      expect(event.details.keyId).toBe(reader.keyId);
      expect(typeof event.details.durationMs).toBe('number');
      expect(event.details.durationMs).toBeGreaterThanOrEqual(0);
      expect(event.details.operation.name).toBeNull();
    });
  });

  describe('what writes no access event', () => {
    it('should write none for requests refused before execution (no key, unknown key, revoked key)', async () => {
      const holder = await identityWithGrants(server, ['identities:read']);
      const revoked = await createKey(server, holder.id);
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
          {
            id: revoked.id,
          },
        ),
      );
      await barrier(server, holder.key);
      const before = await countRows(server, 'audit_events', `action like 'access.%'`);

      const refused = [
        await gql(server.url, null, '{ identities(first: 1) { nodes { id } } }'),
        await gql(
          server.url,
          'kh_not_a_key_anyone_issued',
          '{ identities(first: 1) { nodes { id } } }',
        ),
        await gql(server.url, revoked.secret, '{ identities(first: 1) { nodes { id } } }'),
      ];
      await barrier(server, holder.key);

      expect(refused.map((r) => r.status)).toEqual([401, 401, 401]);
      expect(await countRows(server, 'audit_events', `action like 'access.%'`)).toBe(before + 1);
    });

    it('should write none for an operation that evaluates no @requires', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);

      const response = await gql(server.url, caller.key, 'query Typename { __typename }');
      const marker = await barrier(server, caller.key);

      expect(dataOf(response)).toEqual({ __typename: 'Query' });
      expect((await accessEvents(server, caller.id)).map((e) => e.seq)).toEqual([marker.seq]);
    });

    it('should write none for a request that fails validation', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);

      const response = await gql(
        server.url,
        caller.key,
        '{ identities(first: 1) { nodes { nope } } }',
      );
      const marker = await barrier(server, caller.key);

      expectError(response, 'GRAPHQL_VALIDATION_FAILED');
      expect((await accessEvents(server, caller.id)).map((e) => e.seq)).toEqual([marker.seq]);
    });
  });

  describe('search by decision and scope', () => {
    let allowedCaller: SeededPrincipal;
    let deniedCaller: SeededPrincipal;
    let allowedEvent: AccessRow;
    let deniedEvent: AccessRow;
    let customScope: string;
    let customGrantId: string;

    beforeAll(async () => {
      allowedCaller = await identityWithGrants(server, ['scopes:read']);
      deniedCaller = await identityWithGrants(server, []);
      allowedEvent = await eventOfRequest(
        server,
        requestIdOf(await gql(server.url, allowedCaller.key, '{ scopes { name } }')),
      );
      deniedEvent = await eventOfRequest(
        server,
        requestIdOf(
          await gql(server.url, deniedCaller.key, '{ scope(name: "scopes:read") { name } }'),
        ),
      );
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Search spec.") { id } }',
          { id: allowedCaller.grants[0]?.id },
        ),
      );
      customScope = await defineScope(server);
      const grantee = await createIdentity(server);
      customGrantId = (await grant(server, grantee.id, { scope: customScope })).id;
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Search spec.") { id } }',
          { id: customGrantId },
        ),
      );
      await barrier(server, allowedCaller.key);
    });

    it('should find exactly the access.denied events with decision: DENIED', async () => {
      const nodes = await searchAll(server, { decision: 'DENIED' });

      expect(nodes.map((n) => n.seq)).toContain(deniedEvent.seq);
      expect(new Set(nodes.map((n) => n.action))).toEqual(new Set(['access.denied']));
      expect(nodes.map((n) => n.id)).toEqual(await storedIds(server, `action = 'access.denied'`));
    });

    it('should find only access.allowed events with decision: ALLOWED, and exactly a caller’s with its actorId', async () => {
      const all = await searchAll(server, { decision: 'ALLOWED' });
      const mine = await searchAll(server, { decision: 'ALLOWED', actorId: allowedCaller.id });

      expect(new Set(all.map((n) => n.action))).toEqual(new Set(['access.allowed']));
      expect(all.map((n) => n.seq)).toContain(allowedEvent.seq);
      expect(all.map((n) => n.seq)).not.toContain(deniedEvent.seq);
      expect(mine.map((n) => n.id)).toEqual(
        await storedIds(server, `action = 'access.allowed' and actor_id = $1`, [allowedCaller.id]),
      );
      expect(mine.map((n) => n.seq)).toContain(allowedEvent.seq);
    });

    it("should find a defined scope's definition, grants and revocations by scope, and nothing else", async () => {
      const nodes = await searchAll(server, { scope: customScope });

      expect(nodes.map((n) => n.action)).toEqual([
        'grant.revoked',
        'grant.created',
        'grant.created',
        'scope.defined',
      ]);
      expect(nodes[0]?.subjectId).toBe(customGrantId);
      expect(nodes[1]?.subjectId).toBe(customGrantId);
      expect(nodes[3]?.subjectId).toBe(customScope);
    });

    it('should find the grant events of a built-in scope and the access events that used or lacked it', async () => {
      const nodes = await searchAll(server, { scope: 'scopes:read' });

      const seqs = nodes.map((n) => n.seq);
      expect(seqs).toContain(allowedEvent.seq);
      expect(seqs).toContain(deniedEvent.seq);
      const granted = allowedCaller.grants[0]?.id;
      expect(nodes.filter((n) => n.subjectId === granted).map((n) => n.action)).toEqual([
        'grant.revoked',
        'grant.created',
      ]);
      expect(nodes.every((n) => n.details.scopes?.includes('scopes:read'))).toBe(true);
      // Bootstrap's own events (no actor) are left out: its identity.created names every built-in scope.
      expect(new Set(nodes.filter((n) => n.actorId !== null).map((n) => n.action))).toEqual(
        new Set(['grant.created', 'grant.revoked', 'access.allowed', 'access.denied']),
      );
      expect(nodes.map((n) => n.id)).toEqual(
        await storedIds(server, `details->'scopes' @> $1::jsonb`, [
          JSON.stringify(['scopes:read']),
        ]),
      );
      const unrelated = await searchAll(server, { scope: 'scopes:read', actorId: deniedCaller.id });
      expect(unrelated.map((n) => n.seq)).toEqual([deniedEvent.seq]);
    });

    it('should refuse a scope filter that is not a scope name as BAD_USER_INPUT', async () => {
      const response = await gql(server.url, server.adminKey, SEARCH, {
        filter: { scope: 'not a scope' },
      });

      expectError(response, 'BAD_USER_INPUT', 'is not a valid scope name');
    });

    it('should find nothing when the action and the decision cannot both hold', async () => {
      expect(await searchAll(server, { action: 'grant.', decision: 'DENIED' })).toEqual([]);
      expect(await searchAll(server, { action: 'access.denied', decision: 'ALLOWED' })).toEqual([]);
    });

    it.each([
      ['equal to', 0],
      ['after', 60_000],
    ])('should refuse a time range whose from is %s its to as BAD_USER_INPUT', async (_, gap) => {
      const to = new Date('2026-01-01T00:00:00Z');
      const from = new Date(to.getTime() + gap);

      const response = await gql(server.url, server.adminKey, SEARCH, {
        filter: { from: from.toISOString(), to: to.toISOString() },
      });

      expectError(response, 'BAD_USER_INPUT', '"from" must be before "to".');
    });
  });
});

describe.each(engines())('the access log writer on %s', (engine) => {
  describe('under back-pressure', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer(engine, {
        accessLog: true,
        accessLogTuning: { capacity: 2, batchSize: 1, flushMs: 50, maxWaitMs: 60_000 },
      });
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('should hold responses rather than drop events: 30 concurrent requests, 30 successes, 30 events', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);

      const responses = await Promise.all(
        Array.from({ length: 30 }, () =>
          gql(server.url, caller.key, 'query Concurrent { identities(first: 1) { nodes { id } } }'),
        ),
      );
      const events = await eventually(
        () => accessEvents(server, caller.id),
        (rows) => rows.length >= 30,
      );

      expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
      expect(responses.filter((r) => r.body.errors !== undefined)).toEqual([]);
      expect(events).toHaveLength(30);
      expect(new Set(events.map((e) => e.details.request.requestId))).toEqual(
        new Set(responses.map(requestIdOf)),
      );
      expect(await verify(server)).toMatchObject({ ok: true });
    });

    it('should hold the responses that find the queue full until there is room, refusing none', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);
      await barrier(server, caller.key);
      await blockAccessWrites(server);
      let answered = 0;

      const responses = Promise.all(
        Array.from({ length: 30 }, () =>
          gql(server.url, caller.key, 'query Held { identities(first: 1) { nodes { id } } }').then(
            (response) => {
              answered += 1;
              return response;
            },
          ),
        ),
      );
      // Two events fit in the queue; the other 28 requests wait for room, their responses unsent.
      const held = await eventually(
        () => accessLogHealth(server),
        (h) => h.pending === 30 && answered >= 2,
      );
      const answeredWhileHeld = answered;
      await unblockAccessWrites(server);
      const settled = await responses;
      const events = await eventually(
        () => accessEvents(server, caller.id),
        (rows) => rows.length >= 31,
      );

      expect(held.pending).toBe(30);
      expect(answeredWhileHeld).toBe(2);
      expect(settled.map((r) => r.status)).toEqual(settled.map(() => 200));
      expect(settled.filter((r) => r.body.errors !== undefined)).toEqual([]);
      expect(events.filter((e) => e.details.operation.name === 'Held')).toHaveLength(30);
      expect(await accessLogHealth(server)).toEqual({ pending: 0, failingSince: null });
    });
  });

  describe('while the audit log cannot be written', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer(engine, {
        accessLog: true,
        accessLogTuning: { capacity: 3, batchSize: 10, flushMs: 20, maxWaitMs: 500 },
      });
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('should withhold responses with 503 once full, show it in /healthz, and lose nothing once writes work again', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);
      const marker = await barrier(server, caller.key);
      expect(await accessLogHealth(server)).toEqual({ pending: 0, failingSince: null });
      await blockAccessWrites(server);
      await expect(
        server.database.query(
          `insert into audit_events (action, actor_id, details) values ('access.allowed', $1, '{}')`,
          [caller.id],
        ),
      ).rejects.toThrow(/blocked/);

      const succeeded: GqlResponse[] = [];
      let refused: GqlResponse | undefined;
      for (let i = 0; i < 20 && refused === undefined; i++) {
        const response = await gql(
          server.url,
          caller.key,
          'query Probe { identities(first: 1) { nodes { id } } }',
        );
        if (response.status === 200) succeeded.push(response);
        else refused = response;
      }
      const whileFailing = await health(server);
      const failing = whileFailing.accessLog as AccessLogHealth;

      expect(refused?.status).toBe(503);
      expect(refused?.body).toEqual({
        errors: [
          { message: ACCESS_LOG_UNAVAILABLE, extensions: { code: 'INTERNAL_SERVER_ERROR' } },
        ],
      });
      // The queue holds `capacity` events; the request after them waited, then was refused.
      expect(succeeded).toHaveLength(3);
      expect(succeeded.every((r) => r.body.errors === undefined)).toBe(true);
      expect(whileFailing.status).toBe(200);
      expect(failing.pending).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(failing.failingSince ?? ''))).toBe(false);

      await unblockAccessWrites(server);
      const recovered = await eventually(
        () => accessLogHealth(server),
        (h) => h.pending === 0 && h.failingSince === null,
        20_000,
      );
      const events = await accessEvents(server, caller.id);

      expect(recovered).toEqual({ pending: 0, failingSince: null });
      expect(events.map((e) => e.details.request.requestId)).toEqual([
        marker.details.request.requestId,
        ...succeeded.map(requestIdOf),
      ]);
      expect(server.logs.map((l) => l.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Could not write access events to the audit log/),
          expect.stringMatching(/^Access log writes recovered/),
        ]),
      );
      expect(await verify(server)).toMatchObject({ ok: true });
    });

    it('should never withhold a mutation’s response: its change is committed and its access event waits for room', async () => {
      const caller = await identityWithGrants(server, ['identities:read']);
      await barrier(server, caller.key);
      await blockAccessWrites(server);
      for (let i = 0; i < 3; i++) {
        await gql(server.url, caller.key, 'query Fill { identities(first: 1) { nodes { id } } }');
      }

      const response = await gql(
        server.url,
        server.adminKey,
        'mutation Create($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        { input: { name: `mutation-while-full-${Date.now()}`, kind: 'SERVICE' } },
      );

      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      const created = (response.body.data as { createIdentity: { id: string } }).createIdentity.id;
      await unblockAccessWrites(server);
      await eventually(
        () => accessLogHealth(server),
        (h) => h.pending === 0 && h.failingSince === null,
        20_000,
      );
      const [event] = await server.database.query<{ n: number }>(
        `select count(*)::int as n from audit_events
         where action = 'access.allowed' and details -> 'request' ->> 'requestId' = $1`,
        [requestIdOf(response)],
      );
      expect(event?.n).toBe(1);
      expect(await countRows(server, 'identities', 'id = $1', [created])).toBe(1);
    });
  });
});

describe.each(engines())('access events across a restart on %s', (engine) => {
  let place: Awaited<ReturnType<typeof storage>>;
  let first: TestServer | undefined;
  let second: TestServer | undefined;

  beforeAll(async () => {
    place = await storage(engine);
    first = await startTestServer(engine, {
      ...place.overrides,
      accessLog: true,
      accessLogTuning: { flushMs: 60_000 },
    });
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await place?.remove();
  });

  it('should write the events still queued when the server stops', async () => {
    const running = first as TestServer;
    const caller = await identityWithGrants(running, ['identities:read']);
    const responses: GqlResponse[] = [];
    for (let i = 0; i < 3; i++) {
      responses.push(
        await gql(
          running.url,
          caller.key,
          'query Queued { identities(first: 1) { nodes { id } } }',
        ),
      );
    }
    expect(await accessEvents(running, caller.id)).toEqual([]);

    await running.stop();
    second = await startTestServer(engine, { ...place.overrides, adminKey: ADMIN_KEY });
    const events = await accessEvents(second, caller.id);

    expect(events.map((e) => e.details.request.requestId)).toEqual(responses.map(requestIdOf));
    expect(events.every((e) => e.action === 'access.allowed')).toBe(true);
  });

  it('should keep the chain intact across events written in one batch', async () => {
    const restarted = second as TestServer;

    expect(await verify(restarted)).toEqual({
      ok: true,
      checked: await countRows(restarted, 'audit_events'),
    });
  });
});

describe.each(engines())('with access logging off on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should write no access events and run no writer', async () => {
    const caller = await identityWithGrants(server, ['identities:read']);

    dataOf(await gql(server.url, caller.key, '{ identities(first: 1) { nodes { id } } }'));
    expectError(
      await gql(server.url, caller.key, '{ grants(first: 1) { nodes { id } } }'),
      'FORBIDDEN',
    );
    await createIdentity(server);

    expect((await health(server)).accessLog).toBeNull();
    expect(await countRows(server, 'audit_events', `action like 'access.%'`)).toBe(0);
    expect(await countRows(server, 'audit_events', `action = 'identity.created'`)).toBeGreaterThan(
      1,
    );
  });
});

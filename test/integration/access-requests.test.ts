import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  identityWithGrants,
  type SeededPrincipal,
  sleep,
  unique,
  uniqueScope,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const REQUEST_FIELDS = `id requesterId identityId scope { name } resource ttlSeconds reason status
  createdAt expiresAt decidedAt decidedBy { id } decisionReason grant { id expiresAt grantedBy { id } reason grantable }`;
const REQUEST = `mutation($input: RequestAccessInput!) { requestAccess(input: $input) { ${REQUEST_FIELDS} } }`;
const APPROVE = `mutation($id: ID!, $reason: String) { approveAccessRequest(id: $id, reason: $reason) { ${REQUEST_FIELDS} } }`;
const DENY = `mutation($id: ID!, $reason: String!) { denyAccessRequest(id: $id, reason: $reason) { ${REQUEST_FIELDS} } }`;
const MINE = `query($status: AccessRequestStatus) { myAccessRequests(status: $status) { id status } }`;
const AWAITING = '{ accessRequestsAwaitingMyApproval { id status scope { name } } }';
const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) { allowed reason }
}`;
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name }
}`;

interface AccessRequest {
  id: string;
  requesterId: string;
  identityId: string;
  scope: { name: string };
  resource: string | null;
  ttlSeconds: number;
  reason: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: { id: string } | null;
  decisionReason: string | null;
  grant: {
    id: string;
    expiresAt: string;
    grantedBy: { id: string };
    reason: string;
    grantable: boolean;
  } | null;
}

describe.each(engines())('just-in-time access requests on %s', (engine) => {
  let server: TestServer;
  /** Holds nothing: asks for access. */
  let requester: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine);
    requester = await identityWithGrants(server, []);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** An identity that may decide requests for `scope`: grants:write, grants:read, scope grantable. */
  const approverOf = (scope: string, resource?: string) =>
    identityWithGrants(server, [
      'grants:write',
      'grants:read',
      { scope, grantable: true, ...(resource === undefined ? {} : { resource }) },
    ]);

  const ask = (key: string, input: Record<string, unknown>) =>
    gql<{ requestAccess: AccessRequest }>(server.url, key, REQUEST, {
      input: { ttlSeconds: 600, reason: 'INC-7: investigate', ...input },
    });

  const requested = async (key: string, input: Record<string, unknown>) =>
    dataOf(await ask(key, input)).requestAccess;

  const approve = (key: string, id: string, reason?: string) =>
    gql<{ approveAccessRequest: AccessRequest }>(server.url, key, APPROVE, { id, reason });

  const deny = (key: string, id: string, reason: string) =>
    gql<{ denyAccessRequest: AccessRequest }>(server.url, key, DENY, { id, reason });

  const events = (subjectId: string) =>
    server.database.query<{
      action: string;
      actor_id: string | null;
      details: Record<string, unknown>;
    }>(
      'select action, actor_id::text, details from audit_events where subject_id = $1 order by seq',
      [subjectId],
    );

  /** Rows of the tables a decision writes, to show a refused one wrote nothing. */
  const state = async () =>
    server.database.query(
      `select (select count(*)::int from grants) as grants,
              (select count(*)::int from audit_events where action not like 'access.%') as events,
              (select string_agg(id::text || status::text || coalesce(grant_id::text, ''), ',' order by id)
                 from access_requests) as requests`,
    );

  async function refused(
    run: () => Promise<GqlResponse<unknown>>,
    code: string,
    message: string | RegExp,
  ) {
    const before = await state();
    const error = expectError(await run(), code, message);
    expect(await state()).toEqual(before);
    return error;
  }

  describe('requesting', () => {
    it('should record a pending request for the caller, expiring in 24 hours, with accessrequest.created', async () => {
      const scope = await defineScope(server);

      const request = await requested(requester.key, { scope, resource: 'eu-1' });

      expect(request).toMatchObject({
        requesterId: requester.id,
        identityId: requester.id,
        scope: { name: scope },
        resource: 'eu-1',
        ttlSeconds: 600,
        reason: 'INC-7: investigate',
        status: 'PENDING',
        decidedAt: null,
        grant: null,
      });
      const waits = Date.parse(request.expiresAt) - Date.parse(request.createdAt);
      expect(waits).toBe(24 * 3600 * 1000);
      const [created] = await events(request.id);
      expect(created).toMatchObject({
        action: 'accessrequest.created',
        actor_id: requester.id,
        details: {
          scopes: [scope],
          reason: 'INC-7: investigate',
          after: { identityId: requester.id, scope, resource: 'eu-1', status: 'PENDING' },
        },
      });
    });

    it('should let an identity ask for an identity it owns', async () => {
      const scope = await defineScope(server);
      const agent = await createIdentity(server, { kind: 'AGENT' });
      await server.database.query('update identities set owner_id = $1 where id = $2', [
        requester.id,
        agent.id,
      ]);

      const request = await requested(requester.key, { scope, identityId: agent.id });

      expect(request).toMatchObject({ requesterId: requester.id, identityId: agent.id });
    });

    it('should refuse asking for an identity the caller does not own with FORBIDDEN', async () => {
      const scope = await defineScope(server);
      const stranger = await createIdentity(server);

      await refused(
        () => ask(requester.key, { scope, identityId: stranger.id }),
        'FORBIDDEN',
        `only for yourself or for an identity you own, and "${stranger.name}" is neither`,
      );
    });

    it('should refuse a ttl over the scope policy with BAD_USER_INPUT naming the scope and limit', async () => {
      const scope = await defineScope(server);
      dataOf(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope,
          input: { maxTtlSeconds: 300 },
        }),
      );

      const error = await refused(
        () => ask(requester.key, { scope, ttlSeconds: 301 }),
        'BAD_USER_INPUT',
        `Scope "${scope}" allows grants of at most 300 seconds; this request asks for 301.`,
      );
      expect(error.extensions?.maxTtlSeconds).toBe(300);
    });

    it('should answer NOT_FOUND for a scope that is not defined', async () => {
      const scope = uniqueScope();

      await refused(
        () => ask(requester.key, { scope }),
        'NOT_FOUND',
        `Scope "${scope}" is not defined.`,
      );
    });

    it.each([
      [{ scope: 'Payroll' }, 'is not a valid scope name'],
      [{ reason: '  ' }, 'reason must not be empty.'],
      [{ ttlSeconds: 0 }, 'ttlSeconds for the access request must be a whole number'],
      [{ resource: 'a*b' }, 'may contain "*" only as its last character'],
      [{ identityId: 'nope' }, 'is not a valid identity id'],
    ])('should refuse %j with BAD_USER_INPUT', async (input, message) => {
      const scope = await defineScope(server);

      await refused(() => ask(requester.key, { scope, ...input }), 'BAD_USER_INPUT', message);
    });

    it('should refuse a second pending request for the same scope and resource with CONFLICT', async () => {
      const scope = await defineScope(server);
      const first = await requested(requester.key, { scope });

      const error = await refused(
        () => ask(requester.key, { scope }),
        'CONFLICT',
        'already has a pending request',
      );
      expect(error.extensions?.existingId).toBe(first.id);
    });

    it('should refuse an unauthenticated caller before anything runs', async () => {
      const scope = await defineScope(server);

      const response = await ask('kh_not_a_real_key_000000000000000000000', { scope });

      expectError(response, 'UNAUTHENTICATED');
    });
  });

  describe('approving', () => {
    it('should create the temporary grant in the same transaction, from the approval, with both events', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope, resource: 'eu-1', ttlSeconds: 900 });
      await sleep(20);

      const approved = dataOf(
        await approve(approver.key, request.id, 'Looks right.'),
      ).approveAccessRequest;

      expect(approved).toMatchObject({
        status: 'APPROVED',
        decidedBy: { id: approver.id },
        decisionReason: 'Looks right.',
      });
      const grant = approved.grant;
      expect(grant).not.toBeNull();
      expect(grant?.grantedBy.id).toBe(approver.id);
      expect(grant?.grantable).toBe(false);
      expect(grant?.reason).toBe(`Access request ${request.id}: INC-7: investigate`);
      // The ttl counts from the approval, not from the request.
      expect(Date.parse(grant?.expiresAt ?? '') - Date.parse(approved.decidedAt ?? '')).toBe(
        900_000,
      );
      // Asked by the admin, about the identity: the requester's key was minted before the scope
      // existed, so it is capped by what the admin could delegate then (docs/concepts/rules.md).
      const check = dataOf(
        await gql(server.url, server.adminKey, CHECK, {
          id: requester.id,
          scope,
          resource: 'eu-1',
        }),
      );
      expect(check.check.allowed).toBe(true);
      const steps = await events(request.id);
      expect(steps.map((e) => e.action)).toEqual([
        'accessrequest.created',
        'accessrequest.approved',
      ]);
      expect(steps[1]).toMatchObject({
        actor_id: approver.id,
        details: { grantId: grant?.id, scopes: [scope], after: { status: 'APPROVED' } },
      });
      const [grantEvent] = await events(grant?.id ?? '');
      expect(grantEvent).toMatchObject({
        action: 'grant.created',
        actor_id: approver.id,
        details: { accessRequestId: request.id, after: { identityId: requester.id, scope } },
      });
    });

    it('should be the only way to obtain a scope that requires approval', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      dataOf(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope,
          input: { requiresApproval: true, sensitive: true },
        }),
      );
      const request = await requested(requester.key, { scope });

      const approved = dataOf(await approve(approver.key, request.id)).approveAccessRequest;

      expect(approved.status).toBe('APPROVED');
      const [grantEvent] = await events(approved.grant?.id ?? '');
      expect(grantEvent?.details.sensitive).toBe(true);
    });

    it('should refuse the requester approving its own request (FORBIDDEN)', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope, 'eu-*');
      const request = await requested(approver.key, { scope, resource: 'us-1' });

      await refused(
        () => approve(approver.key, request.id),
        'FORBIDDEN',
        `You cannot approve your own access request ${request.id}`,
      );
    });

    it('should refuse approval by the identity that would receive the grant (FORBIDDEN)', async () => {
      const scope = await defineScope(server);
      const owner = await identityWithGrants(server, []);
      const agent = await approverOf(scope, 'eu-*');
      await server.database.query('update identities set owner_id = $1 where id = $2', [
        owner.id,
        agent.id,
      ]);
      const request = await requested(owner.key, { scope, identityId: agent.id, resource: 'us-1' });

      await refused(
        () => approve(agent.key, request.id),
        'FORBIDDEN',
        'it asks for a grant to you',
      );
    });

    it('should refuse approval by an identity that does not hold the scope grantable (FORBIDDEN)', async () => {
      const scope = await defineScope(server);
      const request = await requested(requester.key, { scope, resource: 'eu-1' });
      const plainHolder = await identityWithGrants(server, ['grants:write', 'grants:read', scope]);
      const elsewhere = await approverOf(scope, 'us-*');

      const error = await refused(
        () => approve(plainHolder.key, request.id),
        'FORBIDDEN',
        `requires holding "${scope}" on resource "eu-1" with grantable: true`,
      );
      expect(error.extensions?.required).toEqual({ scope, resource: 'eu-1', grantable: true });
      await refused(() => approve(elsewhere.key, request.id), 'FORBIDDEN', 'grantable: true');
    });

    it('should refuse approval without grants:write before anything runs', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, ['grants:read', { scope, grantable: true }]);
      const request = await requested(requester.key, { scope });

      const error = await refused(
        () => approve(holder.key, request.id),
        'FORBIDDEN',
        'grants:write',
      );
      expect(error.path).toEqual(['approveAccessRequest']);
    });

    it('should refuse approving an expired request with CONFLICT, and record its expiry once', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope });
      await server.database.query(
        `update access_requests set expires_at = now() - interval '1 second' where id = $1`,
        [request.id],
      );

      expectError(await approve(approver.key, request.id), 'CONFLICT', 'expired at');
      expectError(await approve(approver.key, request.id), 'CONFLICT', 'expired at');

      const mine = dataOf(await gql(server.url, requester.key, MINE, { status: 'EXPIRED' }));
      expect(mine.myAccessRequests).toContainEqual({ id: request.id, status: 'EXPIRED' });
      const steps = await events(request.id);
      expect(steps.map((e) => e.action)).toEqual([
        'accessrequest.created',
        'accessrequest.expired',
      ]);
      const [row] = await server.database.query<{ grant_id: string | null; status: string }>(
        'select grant_id::text, status::text from access_requests where id = $1',
        [request.id],
      );
      expect(row).toEqual({ grant_id: null, status: 'EXPIRED' });
    });

    it('should show a request past its time as EXPIRED before anyone touches it', async () => {
      const scope = await defineScope(server);
      const request = await requested(requester.key, { scope });
      await server.database.query(
        `update access_requests set expires_at = now() - interval '1 second' where id = $1`,
        [request.id],
      );

      const mine = dataOf(await gql(server.url, requester.key, MINE, {}));

      expect(mine.myAccessRequests).toContainEqual({ id: request.id, status: 'EXPIRED' });
      const pending = dataOf(await gql(server.url, requester.key, MINE, { status: 'PENDING' }));
      expect(pending.myAccessRequests.map((r: { id: string }) => r.id)).not.toContain(request.id);
    });

    it('should refuse a request asking for more than a limit set after it was made (CONFLICT)', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope, ttlSeconds: 3600 });
      dataOf(
        await gql(server.url, server.adminKey, SET_POLICY, {
          scope,
          input: { maxTtlSeconds: 600 },
        }),
      );

      await refused(() => approve(approver.key, request.id), 'CONFLICT', `now allows at most 600`);
    });

    it('should answer NOT_FOUND for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
      const approver = await approverOf(await defineScope(server));
      const unknown = '00000000-0000-4000-8000-000000000000';

      await refused(
        () => approve(approver.key, unknown),
        'NOT_FOUND',
        `Access request ${unknown} does not exist.`,
      );
      await refused(
        () => deny(approver.key, unknown, 'No.'),
        'NOT_FOUND',
        `Access request ${unknown} does not exist.`,
      );
      await refused(
        () => approve(approver.key, 'not-an-id'),
        'BAD_USER_INPUT',
        'is not a valid access request id',
      );
    });

    it('should make exactly one grant when approvals race', async () => {
      const scope = await defineScope(server);
      const approvers = [await approverOf(scope), await approverOf(scope)];
      const rounds = 5;
      for (let round = 0; round < rounds; round++) {
        const request = await requested(requester.key, { scope, resource: unique('race') });

        const responses = await Promise.all(
          [0, 1, 2, 3].map((i) => approve((approvers[i % 2] as SeededPrincipal).key, request.id)),
        );

        const won = responses.filter((r) => r.body.data?.approveAccessRequest);
        const lost = responses.filter((r) => r.body.errors);
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(3);
        for (const response of lost) expectError(response, 'CONFLICT', 'was already approved');
        const [counts] = await server.database.query<{ grants: number; approved: number }>(
          `select (select count(*)::int from grants where reason like $1) as grants,
                  (select count(*)::int from audit_events
                    where action = 'accessrequest.approved' and subject_id = $2) as approved`,
          [`Access request ${request.id}:%`, request.id],
        );
        expect(counts).toEqual({ grants: 1, approved: 1 });
      }
    });
  });

  describe('denying', () => {
    it('should deny with a reason, writing accessrequest.denied, and refuse a later approval', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope });

      const denied = dataOf(
        await deny(approver.key, request.id, 'Not on call this week.'),
      ).denyAccessRequest;

      expect(denied).toMatchObject({
        status: 'DENIED',
        decidedBy: { id: approver.id },
        decisionReason: 'Not on call this week.',
        grant: null,
      });
      const steps = await events(request.id);
      expect(steps.at(-1)).toMatchObject({
        action: 'accessrequest.denied',
        actor_id: approver.id,
        details: { decisionReason: 'Not on call this week.' },
      });
      await refused(() => approve(approver.key, request.id), 'CONFLICT', 'was already denied');
    });

    it('should refuse a denial with an empty reason (BAD_USER_INPUT)', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope });

      await refused(
        () => deny(approver.key, request.id, '   '),
        'BAD_USER_INPUT',
        'reason must not be empty.',
      );
    });

    it('should refuse the requester denying its own request, and a non-holder', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope, 'eu-*');
      const request = await requested(approver.key, { scope, resource: 'us-1' });
      const outsider = await identityWithGrants(server, ['grants:write', 'grants:read']);

      await refused(
        () => deny(approver.key, request.id, 'No.'),
        'FORBIDDEN',
        'your own access request',
      );
      await refused(() => deny(outsider.key, request.id, 'No.'), 'FORBIDDEN', 'grantable: true');
    });
  });

  describe('listing', () => {
    it('should list my requests, and those awaiting an approver, and nothing else', async () => {
      const scope = await defineScope(server);
      const other = await defineScope(server);
      const approver = await approverOf(scope);
      const someoneElse = await identityWithGrants(server, []);
      const mine = await requested(requester.key, { scope });
      const theirs = await requested(someoneElse.key, { scope });
      const otherScope = await requested(someoneElse.key, { scope: other });
      const decided = await requested(someoneElse.key, { scope, resource: 'x-1' });
      dataOf(await deny(approver.key, decided.id, 'No.'));
      const ownRequest = await requested(approver.key, { scope, resource: 'y-1' });

      const listed = dataOf(await gql(server.url, requester.key, MINE, {})).myAccessRequests.map(
        (r: { id: string }) => r.id,
      );
      const awaiting = dataOf(
        await gql(server.url, approver.key, AWAITING),
      ).accessRequestsAwaitingMyApproval.map((r: { id: string }) => r.id);

      expect(listed).toContain(mine.id);
      expect(listed).not.toContain(theirs.id);
      expect(awaiting).toEqual(expect.arrayContaining([mine.id, theirs.id]));
      expect(awaiting).not.toContain(otherScope.id);
      expect(awaiting).not.toContain(decided.id);
      expect(awaiting).not.toContain(ownRequest.id);
    });

    it('should refuse accessRequestsAwaitingMyApproval without grants:write', async () => {
      expectError(await gql(server.url, requester.key, AWAITING), 'FORBIDDEN', 'grants:write');
    });
  });

  describe('use and expiry', () => {
    it('should authorize through the approved grant until its ttl passes, then deny', async () => {
      const scope = await defineScope(server);
      const approver = await approverOf(scope);
      const request = await requested(requester.key, { scope, ttlSeconds: 1 });
      dataOf(await approve(approver.key, request.id));

      const during = dataOf(
        await gql(server.url, server.adminKey, CHECK, { id: requester.id, scope }),
      );
      await sleep(1100);
      const after = dataOf(
        await gql(server.url, server.adminKey, CHECK, { id: requester.id, scope }),
      );

      expect(during.check.allowed).toBe(true);
      expect(after.check.allowed).toBe(false);
    });
  });
});

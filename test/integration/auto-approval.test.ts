import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  uniqueScope,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { WebhookReceiver } from '../fixtures/webhook-receiver.js';

const REQUEST_FIELDS = `id status approvedByPolicy decidedAt decidedBy { id } decisionReason
  grant { id expiresAt createdAt grantable active }`;
const REQUEST = `mutation($input: RequestAccessInput!) { requestAccess(input: $input) { ${REQUEST_FIELDS} } }`;
const APPROVE = `mutation($id: ID!) { approveAccessRequest(id: $id) { ${REQUEST_FIELDS} } }`;
const CHECK = `query($id: ID!, $scope: String!, $resource: String) {
  check(identityId: $id, scope: $scope, resource: $resource) { allowed reason }
}`;
const POLICY_FIELDS =
  'policy { maxTtlSeconds requiresApproval sensitive condition autoApprove autoApproveSetBy { id } }';
const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) { name ${POLICY_FIELDS} }
}`;
const DEFINE = `mutation($input: DefineScopeInput!) { defineScope(input: $input) { name ${POLICY_FIELDS} } }`;
const SCOPE = `query($name: String!) { scope(name: $name) { ${POLICY_FIELDS} } }`;
const REVOKE = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Left the team.") { active } }';
const DISABLE = 'mutation($id: ID!) { disableIdentity(id: $id) { status } }';
const CREATE_WEBHOOK = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id } }
}`;

/** The README's example: on call, at most an hour, and a ticket in the reason. */
const onCallCondition = (oncall: string) =>
  `"${oncall}" in requester.scopes && accessRequest.ttlSeconds <= 3600 && accessRequest.reason.matches("[A-Z]+-[0-9]+")`;

interface AccessRequest {
  id: string;
  status: string;
  approvedByPolicy: string | null;
  decidedAt: string | null;
  decidedBy: { id: string } | null;
  decisionReason: string | null;
  grant: {
    id: string;
    expiresAt: string;
    createdAt: string;
    grantable: boolean;
    active: boolean;
  } | null;
}

interface AuditRow {
  action: string;
  actor_id: string | null;
  subject_id: string;
  details: Record<string, unknown>;
}

describe.each(engines())('auto-approval of access requests on %s', (engine) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  /** The scope that says someone is on call. */
  let oncall: string;
  /** On call: holds `oncall` and nothing else. */
  let responder: SeededPrincipal;

  beforeAll(async () => {
    server = await startTestServer(engine, {
      webhooks: { pollIntervalMs: 20, timeoutMs: 2000, retryBaseMs: 40, retryMaxMs: 250 },
    });
    receiver = await WebhookReceiver.start();
    oncall = uniqueScope('execute', 'oncall');
    dataOf(await gql(server.url, server.adminKey, DEFINE, { input: { name: oncall } }));
    responder = await identityWithGrants(server, [oncall]);
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.stop();
  });

  const setPolicy = (key: string, scope: string, input: Record<string, unknown>) =>
    gql(server.url, key, SET_POLICY, { scope, input });

  /**
   * A scope (sensitive when asked) whose owner, `setter`, holds it grantable (with scopes:write and
   * scopes:read, plus `extra`) and has set `autoApprove` (the on-call example unless given).
   */
  async function autoApproved(
    options: { condition?: string; sensitive?: boolean; extra?: string[] } = {},
  ): Promise<{ scope: string; setter: SeededPrincipal; condition: string }> {
    const scope = uniqueScope('read', 'db');
    const policy = options.sensitive ? { sensitive: true } : {};
    dataOf(await gql(server.url, server.adminKey, DEFINE, { input: { name: scope, policy } }));
    const setter = await identityWithGrants(server, [
      'scopes:write',
      'scopes:read',
      { scope, grantable: true },
      ...(options.extra ?? []),
    ]);
    const condition = options.condition ?? onCallCondition(oncall);
    dataOf(await setPolicy(setter.key, scope, { autoApprove: condition }));
    return { scope, setter, condition };
  }

  const ask = (key: string, input: Record<string, unknown>) =>
    gql<{ requestAccess: AccessRequest }>(server.url, key, REQUEST, {
      input: { ttlSeconds: 1800, reason: 'INC-42: restart the primary', ...input },
    });

  const requested = async (key: string, input: Record<string, unknown>) =>
    dataOf(await ask(key, input)).requestAccess;

  /** Who made a grant (read from the table: requesters may not read the setter's identity). */
  const grantedBy = async (grantId: string | undefined) => {
    const [row] = await server.database.query<{ granted_by: string }>(
      'select granted_by::text from grants where id = $1',
      [grantId],
    );
    return row?.granted_by;
  };

  const events = (subjectId: string) =>
    server.database.query<AuditRow & Record<string, unknown>>(
      'select action, actor_id::text, subject_id, details from audit_events where subject_id = $1 order by seq',
      [subjectId],
    );

  const createdEvent = async (requestId: string) => {
    const [created] = await events(requestId);
    expect(created?.action).toBe('accessrequest.created');
    return created as AuditRow;
  };

  // Asked by the admin: about the identity's grants (its own key, minted before the scope was
  // defined, is capped by what the admin could delegate then; see docs/concepts/rules.md).
  const allowed = async (who: SeededPrincipal, scope: string) =>
    dataOf(await gql(server.url, server.adminKey, CHECK, { id: who.id, scope })).check as {
      allowed: boolean;
      reason: string;
    };

  /** Asserts the request was approved at once by `scope`'s policy, saying why when it was not. */
  async function approvedAtOnce(request: { id: string; status: string }, scope: string) {
    const created = await createdEvent(request.id);
    expect(request.status, JSON.stringify(created.details.autoApproval)).toBe('APPROVED');
    expect(request).toMatchObject({ approvedByPolicy: scope });
  }

  /** Asserts the request waits for a person, and that the created event says why. */
  async function stayedPending(request: AccessRequest, outcome: string, reason: RegExp) {
    expect(request).toMatchObject({
      status: 'PENDING',
      approvedByPolicy: null,
      decidedAt: null,
      decidedBy: null,
      grant: null,
    });
    const created = await createdEvent(request.id);
    expect(created.details.autoApproval).toMatchObject({ applied: false, outcome });
    expect((created.details.autoApproval as { reason: string }).reason).toMatch(reason);
    expect((await events(request.id)).map((e) => e.action)).toEqual(['accessrequest.created']);
    return created.details.autoApproval as Record<string, unknown>;
  }

  describe('a matching request', () => {
    it('should be approved at once, recorded as approved by the policy, with a grant from the setter that authorizes immediately', async () => {
      const { scope, setter, condition } = await autoApproved();
      expect((await allowed(responder, scope)).allowed).toBe(false);

      const request = await requested(responder.key, { scope });

      await approvedAtOnce(request, scope);
      expect(request).toMatchObject({
        decidedBy: null,
        grant: { grantable: false, active: true },
      });
      expect(await grantedBy(request.grant?.id)).toBe(setter.id);
      expect(request.decisionReason).toContain(`auto-approval condition of scope "${scope}"`);
      const grant = request.grant as NonNullable<AccessRequest['grant']>;
      expect(Date.parse(grant.expiresAt) - Date.parse(grant.createdAt)).toBe(1800 * 1000);
      expect(await allowed(responder, scope)).toMatchObject({ allowed: true });
      expect(request.decidedAt).toBe(grant.createdAt);

      const trail = await events(request.id);
      expect(trail.map((e) => e.action)).toEqual([
        'accessrequest.created',
        'accessrequest.approved',
      ]);
      expect(trail[0]?.details.autoApproval).toMatchObject({
        applied: true,
        outcome: 'APPROVED',
        condition,
        setBy: setter.id,
        seen: {
          'requester.scopes': [oncall],
          'accessRequest.ttlSeconds': 1800,
          'accessRequest.reason': 'INC-42: restart the primary',
        },
      });
      expect(trail[1]).toMatchObject({
        actor_id: responder.id,
        details: {
          approvedByPolicy: scope,
          condition,
          setBy: setter.id,
          grantId: grant.id,
          after: { status: 'APPROVED' },
        },
      });
      const [grantCreated] = await events(grant.id);
      expect(grantCreated).toMatchObject({
        action: 'grant.created',
        details: { approvedByPolicy: scope, setBy: setter.id, accessRequestId: request.id },
      });
    });

    it('should alert on the grant of a sensitive scope like any other grant', async () => {
      const { scope } = await autoApproved({ sensitive: true });
      const hook = dataOf(
        await gql(server.url, server.adminKey, CREATE_WEBHOOK, {
          input: { url: receiver.url, actions: ['grant.created'], sensitiveOnly: true },
        }),
      ).createWebhook as { secret: string; webhook: { id: string } };
      receiver.secret = hook.secret;

      const request = await requested(responder.key, { scope });

      await approvedAtOnce(request, scope);
      const received = await expectEventually(
        async () => receiver.received.filter((d) => d.body?.event?.subjectId === request.grant?.id),
        (found) => found.length === 1,
        'the alert for the auto-approved grant',
      );
      expect(received[0]?.verified).toBe(true);
      expect(received[0]?.body.event).toMatchObject({
        action: 'grant.created',
        details: { sensitive: true, approvedByPolicy: scope },
      });
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($id: ID!) { disableWebhook(id: $id) { id } }',
          {
            id: hook.webhook.id,
          },
        ),
      );
    });

    it('should approve a request for an owned identity, giving the grant to that identity', async () => {
      const { scope, setter } = await autoApproved({
        condition: '!accessRequest.forSelf && requester.kind == "USER"',
      });
      const owner = await createIdentity(server, { kind: 'USER' });
      const ownerKey = await createKey(server, owner.id);
      const bot = await createIdentity(server, { kind: 'SERVICE', ownerId: owner.id });

      const request = dataOf(
        await gql(
          server.url,
          ownerKey.secret,
          'mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id status approvedByPolicy } }',
          { input: { scope, identityId: bot.id, ttlSeconds: 600, reason: 'Deploy bot.' } },
        ),
      ).requestAccess as { id: string; status: string; approvedByPolicy: string };

      await approvedAtOnce(request, scope);
      const [row] = await server.database.query<{ identity_id: string; granted_by: string }>(
        `select g.identity_id::text, g.granted_by::text from access_requests r
           join grants g on g.id = r.grant_id where r.id = $1`,
        [request.id],
      );
      expect(row).toEqual({ identity_id: bot.id, granted_by: setter.id });
      const [created] = await events(request.id);
      expect(created?.details.autoApproval).toMatchObject({
        seen: { 'accessRequest.forSelf': false, 'requester.kind': 'USER' },
      });
    });
  });

  describe('a request that does not match', () => {
    it('should stay pending when the ttl is over an hour', async () => {
      const { scope } = await autoApproved();

      const request = await requested(responder.key, { scope, ttlSeconds: 7200 });

      const details = await stayedPending(request, 'CONDITION_FALSE', /does not satisfy/);
      expect(details.seen).toMatchObject({ 'accessRequest.ttlSeconds': 7200 });
    });

    it('should stay pending when the reason names no ticket', async () => {
      const { scope } = await autoApproved();

      const request = await requested(responder.key, { scope, reason: 'restart the primary' });

      await stayedPending(request, 'CONDITION_FALSE', /does not satisfy/);
    });

    it('should not count an on-call grant that holds only under a condition', async () => {
      const { scope } = await autoApproved();
      const sometimes = await identityWithGrants(server, [
        { scope: oncall, condition: 'request.hour >= 0' },
      ]);

      const request = await requested(sometimes.key, { scope });

      const details = await stayedPending(request, 'CONDITION_FALSE', /does not satisfy/);
      expect(details.seen).toMatchObject({ 'requester.scopes': [] });
    });

    it('should stay pending when the requester is not on call', async () => {
      const { scope } = await autoApproved();
      const bystander = await identityWithGrants(server, []);

      const request = await requested(bystander.key, { scope });

      const details = await stayedPending(request, 'CONDITION_FALSE', /does not satisfy/);
      expect(details.seen).toMatchObject({ 'requester.scopes': [] });
    });

    it('should still let a person approve it', async () => {
      const { scope } = await autoApproved();
      const approver = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true },
      ]);
      const request = await requested(responder.key, { scope, ttlSeconds: 7200 });

      const approved = dataOf(await gql(server.url, approver.key, APPROVE, { id: request.id }))
        .approveAccessRequest as AccessRequest;

      expect(approved).toMatchObject({
        status: 'APPROVED',
        approvedByPolicy: null,
        decidedBy: { id: approver.id },
      });
      expect(await grantedBy(approved.grant?.id)).toBe(approver.id);
    });
  });

  describe('failing closed', () => {
    it('should stay pending, recording the error, when the condition errors', async () => {
      const { scope } = await autoApproved({ condition: 'requester.attributes.team == "sre"' });

      const request = await requested(responder.key, { scope });

      const details = await stayedPending(request, 'CONDITION_ERRORED', /failed/);
      expect(details.error).toMatch(/team/);
    });

    it('should stay pending when the setter no longer holds the scope grantable', async () => {
      const { scope, setter } = await autoApproved();
      const held = setter.grants.find((g) => g.scope === scope);
      dataOf(await gql(server.url, server.adminKey, REVOKE, { id: held?.id }));

      const request = await requested(responder.key, { scope });

      await stayedPending(request, 'SETTER_LACKS_AUTHORITY', /no longer holds it grantable/);
    });

    it('should stay pending when the setter is disabled', async () => {
      const { scope, setter } = await autoApproved();
      dataOf(await gql(server.url, server.adminKey, DISABLE, { id: setter.id }));

      const request = await requested(responder.key, { scope });

      await stayedPending(request, 'SETTER_LACKS_AUTHORITY', /disabled/);
    });

    it('should stay pending when the setter holds the scope grantable only on other resources', async () => {
      const { scope, setter } = await autoApproved();
      const everywhere = setter.grants.find((g) => g.scope === scope);
      await grant(server, setter.id, { scope, resource: 'eu-*', grantable: true });
      dataOf(await gql(server.url, server.adminKey, REVOKE, { id: everywhere?.id }));

      const elsewhere = await requested(responder.key, { scope, resource: 'us-1' });
      const covered = await requested(responder.key, { scope, resource: 'eu-1' });

      await stayedPending(elsewhere, 'SETTER_LACKS_AUTHORITY', /no longer holds/);
      await approvedAtOnce(covered, scope);
    });

    it('should stay pending when the setter asks for itself (two-person rule)', async () => {
      const { scope, setter } = await autoApproved({ extra: [oncall] });

      const request = await requested(setter.key, { scope });

      await stayedPending(request, 'TWO_PERSON_RULE', /nobody approves their own request/);
    });

    it('should stay pending, not fail, when the approval itself is refused', async () => {
      const { scope } = await autoApproved();
      await grant(server, responder.id, { scope, resource: 'eu-1' });

      const request = await requested(responder.key, { scope, resource: 'eu-1' });

      await stayedPending(request, 'APPROVAL_REFUSED', /already holds an active grant/);
    });
  });

  describe('writing the conditions', () => {
    /** Runs a request that must be refused, and shows it changed nothing. */
    async function refused(run: () => Promise<GqlResponse<unknown>>, field: string) {
      const before = await snapshot(server);
      const error = expectError(await run(), 'BAD_USER_INPUT', `The ${field} is not valid CEL`);
      expect(await snapshot(server)).toEqual(before);
      expect(error.extensions?.field).toBe(field);
      return error;
    }

    it('should refuse an auto-approval condition that does not parse, saying where', async () => {
      const { scope, setter } = await autoApproved();

      const error = await refused(
        () => setPolicy(setter.key, scope, { autoApprove: 'accessRequest.ttlSeconds <=' }),
        'policy.autoApprove',
      );

      expect(error.extensions?.position).toEqual({ offset: 27, line: 1, column: 28 });
    });

    it('should refuse variables of the other kind of condition in each field', async () => {
      const { scope, setter } = await autoApproved();

      const auto = await refused(
        () => setPolicy(setter.key, scope, { autoApprove: 'true && request.ip == "10.0.0.1"' }),
        'policy.autoApprove',
      );
      const grantKind = await refused(
        () => setPolicy(setter.key, scope, { condition: '"x" in requester.scopes' }),
        'policy.condition',
      );

      expect(auto.message).toMatch(/unknown variable: request/);
      expect(auto.extensions?.position).toMatchObject({ line: 1, column: 9 });
      expect(grantKind.message).toMatch(/unknown variable: requester/);
    });

    it('should refuse a condition that is not a bool, and define nothing with it', async () => {
      await refused(
        () =>
          gql(server.url, server.adminKey, DEFINE, {
            input: { name: uniqueScope(), policy: { autoApprove: 'accessRequest.ttlSeconds' } },
          }),
        'policy.autoApprove',
      );
    });

    it('should refuse a caller who does not hold the scope grantable, and change nothing', async () => {
      const { scope } = await autoApproved();
      const outsider = await identityWithGrants(server, ['scopes:write', 'scopes:read']);
      const before = await snapshot(server);

      expectError(
        await setPolicy(outsider.key, scope, { autoApprove: 'true' }),
        'FORBIDDEN',
        `Changing the policy of "${scope}" requires holding it`,
      );
      expectError(
        await setPolicy(outsider.key, scope, { condition: 'false' }),
        'FORBIDDEN',
        `Changing the policy of "${scope}"`,
      );

      expect(await snapshot(server)).toEqual(before);
    });

    it('should show the setter, record both in scope.policy_changed, and clear the setter with the condition', async () => {
      const { scope, setter, condition } = await autoApproved();
      const read = async () =>
        (
          dataOf(await gql(server.url, server.adminKey, SCOPE, { name: scope })).scope as {
            policy: Record<string, unknown>;
          }
        ).policy;
      expect(await read()).toMatchObject({
        autoApprove: condition,
        autoApproveSetBy: { id: setter.id },
      });

      dataOf(await setPolicy(setter.key, scope, { autoApprove: '   ' }));

      expect(await read()).toMatchObject({ autoApprove: null, autoApproveSetBy: null });
      const changes = await server.database.query<AuditRow & Record<string, unknown>>(
        `select action, actor_id::text, subject_id, details from audit_events
          where action = 'scope.policy_changed' and subject_id = $1 order by seq`,
        [scope],
      );
      expect(changes.map((c) => [c.details.before, c.details.after])).toMatchObject([
        [
          { autoApprove: null, autoApproveSetBy: null },
          { autoApprove: condition, autoApproveSetBy: setter.id },
        ],
        [
          { autoApprove: condition, autoApproveSetBy: setter.id },
          { autoApprove: null, autoApproveSetBy: null },
        ],
      ]);
      const request = await requested(responder.key, { scope });
      expect(request.status).toBe('PENDING');
      expect((await createdEvent(request.id)).details).not.toHaveProperty('autoApproval');
    });

    it('should make whoever sets the condition again its setter', async () => {
      const { scope, condition } = await autoApproved();

      const reset = dataOf(await setPolicy(server.adminKey, scope, { autoApprove: condition }));

      expect(reset.setScopePolicy.policy.autoApproveSetBy).toEqual({ id: server.adminId });
    });

    it('should hide the setter from a caller who may not read identities', async () => {
      const { scope, setter } = await autoApproved();
      const reader = await identityWithGrants(server, ['scopes:read']);

      const response = await gql(server.url, reader.key, SCOPE, { name: scope });

      expect(response.body.data?.scope).toMatchObject({
        policy: { autoApprove: expect.any(String), autoApproveSetBy: null },
      });
      const error = expectError(response, 'FORBIDDEN');
      expect(error.path).toEqual(['scope', 'policy', 'autoApproveSetBy', 'id']);
      const own = await gql(server.url, setter.key, SCOPE, { name: scope });
      expect(own.body.errors).toBeUndefined();
    });

    it('should set, trim and clear a scope condition, round-tripping through Scope.policy and the event', async () => {
      const { scope, setter } = await autoApproved();
      const text = 'request.hour >= 8 && request.hour < 18';

      const set = dataOf(await setPolicy(setter.key, scope, { condition: `  ${text}\n` }));
      const read = dataOf(await gql(server.url, server.adminKey, SCOPE, { name: scope }));
      const cleared = dataOf(await setPolicy(setter.key, scope, { condition: null }));

      expect(set.setScopePolicy.policy.condition).toBe(text);
      expect(read.scope.policy.condition).toBe(text);
      expect(cleared.setScopePolicy.policy.condition).toBeNull();
      const changes = await server.database.query<AuditRow & Record<string, unknown>>(
        `select action, actor_id::text, subject_id, details from audit_events
          where action = 'scope.policy_changed' and subject_id = $1 order by seq`,
        [scope],
      );
      expect(changes.slice(1).map((c) => [c.details.before, c.details.after])).toMatchObject([
        [{ condition: null }, { condition: text }],
        [{ condition: text }, { condition: null }],
      ]);
    });

    it('should define a scope with both conditions, the definer as setter', async () => {
      const name = uniqueScope();
      const policy = { condition: 'resource != ""', autoApprove: 'accessRequest.resource != ""' };

      const defined = dataOf(
        await gql(server.url, server.adminKey, DEFINE, { input: { name, policy } }),
      );

      expect(defined.defineScope.policy).toMatchObject({
        ...policy,
        autoApproveSetBy: { id: server.adminId },
      });
      const [event] = await server.database.query<AuditRow & Record<string, unknown>>(
        `select action, actor_id::text, subject_id, details from audit_events
          where action = 'scope.defined' and subject_id = $1`,
        [name],
      );
      expect(event?.details.after).toMatchObject({
        policy: { ...policy, autoApproveSetBy: server.adminId },
      });
    });
  });
});

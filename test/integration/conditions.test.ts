import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOfRequest, requestIdOf } from '../fixtures/access-log.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity, defineScope, grant, identityWithGrants } from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const GRANT = `mutation($input: GrantInput!) {
  grant(input: $input) { id condition }
}`;
const CHECK = `query($id: ID!, $scope: String!, $resource: String, $context: CheckContextInput) {
  check(identityId: $id, scope: $scope, resource: $resource, context: $context) {
    allowed reason grant { id }
    conditions { grantId scope source expression result error values }
  }
}`;
const IDENTITIES = 'query { identities(first: 1) { nodes { id } } }';
const OFFICE = 'cidr(request.ip, "10.0.0.0/8")';
const LOOPBACK = 'cidr(request.ip, ["127.0.0.0/8", "::1/128"])';

interface Outcome {
  grantId: string;
  scope: string;
  source: string;
  expression: string;
  result: string;
  error: string | null;
  values: Record<string, unknown>;
}
interface Decision {
  allowed: boolean;
  reason: string;
  grant: { id: string } | null;
  conditions: Outcome[];
}

describe.each(engines())('conditions on grants on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const check = async (
    identityId: string,
    scope: string,
    more: { resource?: string; context?: Record<string, unknown>; key?: string } = {},
  ) =>
    dataOf(
      await gql<{ check: Decision }>(server.url, more.key ?? server.adminKey, CHECK, {
        id: identityId,
        scope,
        resource: more.resource ?? null,
        context: more.context ?? null,
      }),
    ).check;

  describe('when written', () => {
    const refusals: [string, string, RegExp, { line: number; column: number } | null][] = [
      [
        'a syntax error',
        'request.hour >= 9 &&',
        /^The condition is not valid CEL at line 1, column 21: unexpected token/i,
        { line: 1, column: 21 },
      ],
      [
        'an unknown variable',
        'reqest.ip == "10.0.0.1"',
        /at line 1, column 1: unknown variable: reqest/i,
        { line: 1, column: 1 },
      ],
      [
        'an unknown field',
        'request.ipAddress == "10.0.0.1"',
        /column 9: no such key: ipAddress/i,
        { line: 1, column: 9 },
      ],
      [
        'a result that is not a bool',
        'request.hour + 1',
        /must evaluate to a bool, but evaluates to int/,
        { line: 1, column: 1 },
      ],
      ['a type error', 'request.hour == "nine"', /no such overload/i, { line: 1, column: 1 }],
      [
        'a literal CIDR range that is not one',
        'request.hour > 1 &&\n  cidr(request.ip, "10.0.0.0/33")',
        /at line 2, column 20: "10.0.0.0\/33" is not a CIDR range/,
        { line: 2, column: 20 },
      ],
      ['nested list macros', '[1, 2].exists(x, [3].all(y, y > x))', /cannot be nested/, null],
      [
        'a condition over 2,000 characters',
        `request.hour > 1${' && true'.repeat(300)}`,
        /longer than 2000 characters/,
        null,
      ],
    ];

    it.each(refusals)(
      'should refuse %s with BAD_USER_INPUT naming the position, and change nothing',
      async (_, condition, message, position) => {
        const holder = await createIdentity(server);
        const scope = await defineScope(server);
        const before = await snapshot(server);

        const error = expectError(
          await gql(server.url, server.adminKey, GRANT, {
            input: { identityId: holder.id, scope, reason: 'Conditional.', condition },
          }),
          'BAD_USER_INPUT',
          message,
        );

        expect(error.extensions?.field).toBe('condition');
        if (position !== null) expect(error.extensions?.position).toMatchObject(position);
        expect(await snapshot(server)).toEqual(before);
      },
    );

    it('should keep the condition on the grant and in its grant.created event', async () => {
      const holder = await createIdentity(server);
      const scope = await defineScope(server);

      const made = dataOf(
        await gql<{ grant: { id: string; condition: string } }>(
          server.url,
          server.adminKey,
          GRANT,
          {
            input: {
              identityId: holder.id,
              scope,
              reason: 'Office only.',
              condition: `  ${OFFICE} `,
            },
          },
        ),
      ).grant;

      expect(made.condition).toBe(OFFICE);
      const [event] = await server.database.query<{ details: { after: { condition: string } } }>(
        `select details from audit_events where action = 'grant.created' and subject_id = $1`,
        [made.id],
      );
      expect(event?.details.after.condition).toBe(OFFICE);
    });
  });

  describe('when deciding', () => {
    it('should allow through a grant whose condition holds, and say so', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, condition: LOOPBACK }]);

      const decision = await check(holder.id, scope);

      expect(decision.allowed).toBe(true);
      expect(decision.grant?.id).toBe(holder.grants[0]?.id);
      expect(decision.reason).toMatch(/its conditions held\.$/);
      expect(decision.conditions).toEqual([
        {
          grantId: holder.grants[0]?.id,
          scope,
          source: 'GRANT',
          expression: LOOPBACK,
          result: 'TRUE',
          error: null,
          values: {},
        },
      ]);
    });

    it('should deny when the condition is false, naming it and the values it saw', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, condition: OFFICE }]);
      const grantId = holder.grants[0]?.id;

      const decision = await check(holder.id, scope);

      expect(decision.allowed).toBe(false);
      expect(decision.reason).toBe(
        `Identity "${holder.name}" holds a grant of "${scope}" covering every resource, but the condition of grant ${grantId} \`${OFFICE}\` was false (request.ip = "127.0.0.1").`,
      );
      expect(decision.conditions).toEqual([
        expect.objectContaining({ result: 'FALSE', values: { 'request.ip': '127.0.0.1' } }),
      ]);
    });

    it('should deny when the condition errors at run time, and say it errored', async () => {
      const scope = await defineScope(server);
      // An API key carries no token, so token.claims has no amr.
      const holder = await identityWithGrants(server, [
        { scope, condition: '"mfa" in token.claims.amr' },
      ]);

      const decision = await check(holder.id, scope);

      expect(decision.allowed).toBe(false);
      expect(decision.reason).toMatch(
        /`"mfa" in token\.claims\.amr` errored and so denied \(no such key: amr; token\.claims\.amr = null\)\.$/i,
      );
      expect(decision.conditions[0]).toMatchObject({
        result: 'ERROR',
        error: expect.stringMatching(/amr/),
      });
    });

    it('should let an unconditional grant allow where a conditional one of the same scope is refused', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [
        { scope, resource: 'eu-*', condition: OFFICE },
        { scope, resource: 'eu-1' },
      ]);

      const decision = await check(holder.id, scope, { resource: 'eu-1' });

      expect(decision.allowed).toBe(true);
      expect(decision.grant?.id).toBe(holder.grants[1]?.id);
    });

    it('should read the resource decided on', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [
        { scope, condition: 'resource.startsWith("eu-")' },
      ]);

      expect((await check(holder.id, scope, { resource: 'eu-7' })).allowed).toBe(true);
      const denied = await check(holder.id, scope, { resource: 'us-7' });
      expect(denied.allowed).toBe(false);
      expect(denied.reason).toContain('(resource = "us-7")');
    });
  });

  describe('scope policies and owners', () => {
    const setPolicyCondition = (scope: string, condition: string | null) =>
      gql(
        server.url,
        server.adminKey,
        'mutation($scope: String!, $input: ScopePolicyInput!) { setScopePolicy(scope: $scope, input: $input) { name } }',
        { scope, input: { condition } },
      );

    it("should deny every grant of a scope whose policy condition fails, the grant's own condition aside", async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      expect((await check(holder.id, scope)).allowed).toBe(true);

      dataOf(await setPolicyCondition(scope, OFFICE));
      const decision = await check(holder.id, scope);

      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain(
        `the policy condition of scope "${scope}" \`${OFFICE}\` was false (request.ip = "127.0.0.1")`,
      );
      expect(decision.conditions).toEqual([
        expect.objectContaining({ source: 'SCOPE_POLICY', result: 'FALSE' }),
      ]);
      const listed = dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($id: ID!) { identity(id: $id) { grants { condition policyCondition } } }',
          { id: holder.id },
        ),
      ).identity.grants;
      expect(listed).toEqual([{ condition: null, policyCondition: OFFICE }]);

      dataOf(await setPolicyCondition(scope, null));
      expect((await check(holder.id, scope)).allowed).toBe(true);
    });

    it("should require both the grant's and the policy's condition", async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, condition: LOOPBACK }]);
      dataOf(await setPolicyCondition(scope, 'request.hour >= 0'));

      const decision = await check(holder.id, scope);

      expect(decision.allowed).toBe(true);
      expect(decision.conditions.map((c) => [c.source, c.result])).toEqual([
        ['GRANT', 'TRUE'],
        ['SCOPE_POLICY', 'TRUE'],
      ]);
    });

    it("should cap an agent's grant by its owner's grant's condition", async () => {
      const scope = await defineScope(server);
      const owner = await identityWithGrants(server, [{ scope, condition: OFFICE }], {
        kind: 'USER',
      });
      const agent = await createIdentity(server, { kind: 'AGENT', ownerId: owner.id });
      await grant(server, agent.id, { scope });

      const decision = await check(agent.id, scope);

      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain(`the owner's condition capping grant`);
      expect(decision.conditions).toEqual([
        expect.objectContaining({ source: 'OWNER_GRANT', expression: OFFICE, result: 'FALSE' }),
      ]);
      expect((await check(agent.id, scope, { context: { ip: '10.9.9.9' } })).allowed).toBe(true);
    });
  });

  describe('through @requires on Keyholder itself', () => {
    let logged: TestServer;

    beforeAll(async () => {
      logged = await startTestServer(engine, { accessLog: true });
    });

    afterAll(async () => {
      await logged?.stop();
    });

    it('should answer FORBIDDEN with the failing condition and what it saw, and record it in the access event', async () => {
      const reader = await identityWithGrants(logged, [
        { scope: 'identities:read', condition: OFFICE },
      ]);
      const grantId = reader.grants[0]?.id;

      const response = await gql(logged.url, reader.key, IDENTITIES);

      const error = expectError(
        response,
        'FORBIDDEN',
        `A grant was held, but the condition of grant ${grantId} \`${OFFICE}\` was false (request.ip = "127.0.0.1").`,
      );
      expect(error.extensions?.conditions).toEqual([
        {
          grantId,
          scope: 'identities:read',
          source: 'GRANT',
          expression: OFFICE,
          result: 'FALSE',
          error: null,
          values: { 'request.ip': '127.0.0.1' },
        },
      ]);
      const [event] = await eventsOfRequest(logged, requestIdOf(response));
      expect(event?.action).toBe('access.denied');
      expect((event?.details as { conditions?: unknown } | undefined)?.conditions).toEqual([
        expect.objectContaining({
          grantId,
          result: 'FALSE',
          values: { 'request.ip': '127.0.0.1' },
        }),
      ]);
    });

    it('should serve the field while the condition holds and record the outcome as TRUE', async () => {
      const reader = await identityWithGrants(logged, [
        { scope: 'identities:read', condition: LOOPBACK },
      ]);

      const response = await gql(logged.url, reader.key, IDENTITIES);

      dataOf(response);
      const [event] = await eventsOfRequest(logged, requestIdOf(response));
      expect(event?.action).toBe('access.allowed');
      expect((event?.details as { conditions?: unknown } | undefined)?.conditions).toEqual([
        expect.objectContaining({ grantId: reader.grants[0]?.id, result: 'TRUE', values: {} }),
      ]);
    });

    it('should limit how often a grant authorizes with usage.lastMinute', async () => {
      const reader = await identityWithGrants(logged, [
        { scope: 'identities:read', condition: 'usage.lastMinute < 2' },
      ]);

      dataOf(await gql(logged.url, reader.key, IDENTITIES));
      dataOf(await gql(logged.url, reader.key, IDENTITIES));
      const third = await gql(logged.url, reader.key, IDENTITIES);

      expectError(third, 'FORBIDDEN', '`usage.lastMinute < 2` was false (usage.lastMinute = 2)');
    });
  });

  describe('what-if checks', () => {
    it('should decide against the context given by a holder of grants:read', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, condition: OFFICE }]);

      const decision = await check(holder.id, scope, { context: { ip: '10.20.30.40' } });

      expect(decision.allowed).toBe(true);
      expect(decision.conditions[0]?.result).toBe('TRUE');
    });

    it('should refuse a context from a caller without grants:read, even about itself', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, condition: OFFICE }]);

      expectError(
        await gql(server.url, holder.key, CHECK, {
          id: holder.id,
          scope,
          context: { ip: '10.20.30.40' },
        }),
        'FORBIDDEN',
        'needs the scope "grants:read"',
      );
      // Without a context, asking about itself is allowed, and answered against its own request.
      const own = dataOf(
        await gql<{ check: Decision }>(server.url, holder.key, CHECK, { id: holder.id, scope }),
      ).check;
      expect(own.allowed).toBe(false);
    });

    it('should refuse a context that is not well formed', async () => {
      const scope = await defineScope(server);
      const holder = await createIdentity(server);

      expectError(
        await gql(server.url, server.adminKey, CHECK, {
          id: holder.id,
          scope,
          context: { ip: 'not-an-ip' },
        }),
        'BAD_USER_INPUT',
        'context.ip "not-an-ip" is not an IP address.',
      );
      expectError(
        await gql(server.url, server.adminKey, CHECK, {
          id: holder.id,
          scope,
          context: { device: [1, 2] },
        }),
        'BAD_USER_INPUT',
        'context.device must be a JSON object.',
      );
    });
  });

  describe('delegation', () => {
    it('should make a holder of a conditional grantable grant hand it on only with its condition', async () => {
      const scope = await defineScope(server);
      const delegate = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true, condition: OFFICE },
      ]);
      const grantee = await createIdentity(server);
      const before = await snapshot(server);

      expectError(
        await gql(server.url, delegate.key, GRANT, {
          input: { identityId: grantee.id, scope, reason: 'Unconditional.' },
        }),
        'FORBIDDEN',
        `You hold "${scope}" only under the condition \`${OFFICE}\``,
      );
      expectError(
        await gql(server.url, delegate.key, GRANT, {
          input: { identityId: grantee.id, scope, reason: 'Looser.', condition: LOOPBACK },
        }),
        'FORBIDDEN',
      );
      // Starts with the condition, but `||` binds looser than `&&`: it would hold anywhere.
      expectError(
        await gql(server.url, delegate.key, GRANT, {
          input: {
            identityId: grantee.id,
            scope,
            reason: 'Sneaky.',
            condition: `(${OFFICE}) && false || true`,
          },
        }),
        'FORBIDDEN',
      );
      expect(await snapshot(server)).toEqual(before);

      const narrower = `(${OFFICE}) && (request.hour >= 9)`;
      const made = dataOf(
        await gql<{ grant: { condition: string } }>(server.url, delegate.key, GRANT, {
          input: { identityId: grantee.id, scope, reason: 'Narrower.', condition: narrower },
        }),
      ).grant;
      expect(made.condition).toBe(narrower);
    });

    it('should not let a conditional grantable grant approve an access request (the grant it makes has no condition)', async () => {
      const scope = await defineScope(server);
      const approver = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true, condition: LOOPBACK },
      ]);
      const asker = await identityWithGrants(server, []);
      const requested = dataOf(
        await gql<{ requestAccess: { id: string } }>(
          server.url,
          asker.key,
          'mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id } }',
          { input: { scope, ttlSeconds: 600, reason: 'Incident INC-1.' } },
        ),
      ).requestAccess;

      expectError(
        await gql(
          server.url,
          approver.key,
          'mutation($id: ID!) { approveAccessRequest(id: $id) { status } }',
          { id: requested.id },
        ),
        'FORBIDDEN',
        'with grantable: true and without a condition',
      );
    });

    it('should let the same condition be handed on as it is', async () => {
      const scope = await defineScope(server);
      const delegate = await identityWithGrants(server, [
        'grants:write',
        'grants:read',
        { scope, grantable: true, condition: OFFICE },
      ]);
      const grantee = await createIdentity(server);

      const made = await grant(server, grantee.id, { scope, condition: OFFICE, as: delegate.key });

      expect(made.id).toBeTruthy();
    });
  });
});

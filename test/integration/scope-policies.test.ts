import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  uniqueScope,
} from '../fixtures/seed.js';
import { snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

const SET_POLICY = `mutation($scope: String!, $input: ScopePolicyInput!) {
  setScopePolicy(scope: $scope, input: $input) {
    name policy { maxTtlSeconds requiresApproval sensitive }
  }
}`;
const SCOPE = `query($name: String!) {
  scope(name: $name) {
    policy { maxTtlSeconds requiresApproval sensitive }
    grantsOutlivingPolicy { id expiresAt }
  }
}`;
const GRANT = 'mutation($input: GrantInput!) { grant(input: $input) { id expiresAt } }';
const DEFINE = `mutation($input: DefineScopeInput!) {
  defineScope(input: $input) { name policy { maxTtlSeconds requiresApproval sensitive } }
}`;

interface Policy {
  maxTtlSeconds: number | null;
  requiresApproval: boolean;
  sensitive: boolean;
}

describe.each(engines())('scope policies on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const setPolicy = (scope: string, input: Record<string, unknown>, key = server.adminKey) =>
    gql(server.url, key, SET_POLICY, { scope, input });

  const policyOf = async (name: string) =>
    dataOf(await gql(server.url, server.adminKey, SCOPE, { name })).scope as {
      policy: Policy;
      grantsOutlivingPolicy: { id: string; expiresAt: string | null }[];
    };

  const eventsAbout = (action: string, subjectId: string) =>
    server.database.query<{ actor_id: string; details: Record<string, unknown> }>(
      'select actor_id::text, details from audit_events where action = $1 and subject_id = $2 order by seq',
      [action, subjectId],
    );

  /** Runs a request that must be refused, and shows it changed nothing. */
  async function refused(
    run: () => Promise<GqlResponse<unknown>>,
    code: string,
    message: string | RegExp,
  ) {
    const before = await snapshot(server);
    const error = expectError(await run(), code, message);
    expect(await snapshot(server)).toEqual(before);
    return error;
  }

  describe('reading and setting', () => {
    it('should give a new scope no policy: no limit, no approval, not sensitive', async () => {
      const scope = await defineScope(server);

      expect((await policyOf(scope)).policy).toEqual({
        maxTtlSeconds: null,
        requiresApproval: false,
        sensitive: false,
      });
    });

    it('should define a scope with a policy and record it in scope.defined', async () => {
      const name = uniqueScope();
      const policy = { maxTtlSeconds: 3600, requiresApproval: true, sensitive: true };

      const defined = dataOf(
        await gql(server.url, server.adminKey, DEFINE, { input: { name, policy } }),
      );

      expect(defined.defineScope.policy).toEqual(policy);
      const [event] = await eventsAbout('scope.defined', name);
      expect(event?.details.after).toMatchObject({ policy });
    });

    it('should change only the fields given, and write scope.policy_changed with before and after', async () => {
      const scope = await defineScope(server);

      const first = dataOf(await setPolicy(scope, { maxTtlSeconds: 7200 }));
      const second = dataOf(await setPolicy(scope, { sensitive: true }));

      expect(first.setScopePolicy.policy).toEqual({
        maxTtlSeconds: 7200,
        requiresApproval: false,
        sensitive: false,
      });
      expect(second.setScopePolicy.policy).toEqual({
        maxTtlSeconds: 7200,
        requiresApproval: false,
        sensitive: true,
      });
      const events = await eventsAbout('scope.policy_changed', scope);
      expect(events).toHaveLength(2);
      expect(events[1]?.actor_id).toBe(server.adminId);
      expect(events[1]?.details).toMatchObject({
        before: { maxTtlSeconds: 7200, requiresApproval: false, sensitive: false },
        after: { maxTtlSeconds: 7200, requiresApproval: false, sensitive: true },
        scopes: [scope],
      });
    });

    it('should remove the limit when maxTtlSeconds is null', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { maxTtlSeconds: 60 }));

      const cleared = dataOf(await setPolicy(scope, { maxTtlSeconds: null }));

      expect(cleared.setScopePolicy.policy.maxTtlSeconds).toBeNull();
    });

    it('should write no event for a change that changes nothing', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { sensitive: true }));

      dataOf(await setPolicy(scope, { sensitive: true }));

      expect(await eventsAbout('scope.policy_changed', scope)).toHaveLength(1);
    });
  });

  describe('who may set a policy', () => {
    it('should refuse a caller with scopes:write who does not hold the scope grantable', async () => {
      const scope = await defineScope(server);
      const writer = await identityWithGrants(server, ['scopes:write', 'scopes:read', scope]);

      const error = await refused(
        () => setPolicy(scope, { maxTtlSeconds: null }, writer.key),
        'FORBIDDEN',
        `Changing the policy of "${scope}" requires holding it on every resource with grantable: true`,
      );
      expect(error.extensions?.required).toEqual({ scope, resource: null, grantable: true });
    });

    it('should refuse a caller who holds the scope grantable on some resources only', async () => {
      const scope = await defineScope(server);
      const writer = await identityWithGrants(server, [
        'scopes:write',
        'scopes:read',
        { scope, resource: 'eu-*', grantable: true },
      ]);

      await refused(
        () => setPolicy(scope, { sensitive: false }, writer.key),
        'FORBIDDEN',
        'on every resource',
      );
    });

    it('should let a caller with scopes:write who holds the scope grantable everywhere set it', async () => {
      const scope = await defineScope(server);
      const writer = await identityWithGrants(server, [
        'scopes:write',
        'scopes:read',
        { scope, grantable: true },
      ]);

      const changed = dataOf(await setPolicy(scope, { requiresApproval: true }, writer.key));

      expect(changed.setScopePolicy.policy.requiresApproval).toBe(true);
    });

    it('should refuse a caller without scopes:write before anything runs', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [{ scope, grantable: true }]);

      const error = await refused(
        () => setPolicy(scope, { maxTtlSeconds: 60 }, holder.key),
        'FORBIDDEN',
        'scopes:write',
      );
      expect(error.path).toEqual(['setScopePolicy']);
    });
  });

  describe('bad input', () => {
    it.each([
      [{ maxTtlSeconds: 0 }, 'maxTtlSeconds must be a whole number from 1'],
      [{ maxTtlSeconds: 157680001 }, 'maxTtlSeconds must be a whole number from 1'],
      [{ requiresApproval: null }, 'requiresApproval must be true or false'],
      [{ sensitive: null }, 'sensitive must be true or false'],
    ])('should refuse %j with BAD_USER_INPUT', async (input, message) => {
      const scope = await defineScope(server);

      await refused(() => setPolicy(scope, input), 'BAD_USER_INPUT', message);
    });

    it('should answer NOT_FOUND for a scope that is not defined', async () => {
      const scope = uniqueScope();

      await refused(
        () => setPolicy(scope, { sensitive: true }),
        'NOT_FOUND',
        `Scope "${scope}" is not defined.`,
      );
    });

    it('should refuse a malformed scope name with BAD_USER_INPUT', async () => {
      await refused(
        () => setPolicy('Not A Scope', { sensitive: true }),
        'BAD_USER_INPUT',
        'is not a valid scope name',
      );
    });

    it('should refuse a bad policy in defineScope and define nothing', async () => {
      const name = uniqueScope();

      await refused(
        () =>
          gql(server.url, server.adminKey, DEFINE, {
            input: { name, policy: { maxTtlSeconds: -5 } },
          }),
        'BAD_USER_INPUT',
        'maxTtlSeconds',
      );
    });
  });

  describe('maxTtlSeconds', () => {
    it('should refuse a grant longer than the limit with BAD_USER_INPUT naming the scope and limit', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { maxTtlSeconds: 3600 }));
      const target = await createIdentity(server);

      const error = await refused(
        () =>
          gql(server.url, server.adminKey, GRANT, {
            input: { identityId: target.id, scope, reason: 'Too long.', ttlSeconds: 3601 },
          }),
        'BAD_USER_INPUT',
        `Scope "${scope}" allows grants of at most 3600 seconds`,
      );
      expect(error.extensions?.maxTtlSeconds).toBe(3600);
    });

    it('should refuse a permanent grant of a scope with a limit', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { maxTtlSeconds: 3600 }));
      const target = await createIdentity(server);

      await refused(
        () =>
          gql(server.url, server.adminKey, GRANT, {
            input: { identityId: target.id, scope, reason: 'Forever.' },
          }),
        'BAD_USER_INPUT',
        'permanent grants are refused',
      );
    });

    it('should refuse an expiresAt beyond the limit', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { maxTtlSeconds: 60 }));
      const target = await createIdentity(server);
      const expiresAt = new Date(Date.now() + 3600_000).toISOString();

      const error = await refused(
        () =>
          gql(server.url, server.adminKey, GRANT, {
            input: { identityId: target.id, scope, reason: 'Too far.', expiresAt },
          }),
        'BAD_USER_INPUT',
        'at most 60 seconds',
      );
      expect(error.extensions?.field).toBe('expiresAt');
    });

    it('should allow a grant within the limit', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { maxTtlSeconds: 3600 }));
      const target = await createIdentity(server);

      const made = await grant(server, target.id, { scope, ttlSeconds: 3600 });

      expect(made.expiresAt).not.toBeNull();
    });

    it('should leave longer grants as they are when the limit is tightened, and list them', async () => {
      const scope = await defineScope(server);
      const permanent = await grant(server, (await createIdentity(server)).id, { scope });
      const long = await grant(server, (await createIdentity(server)).id, {
        scope,
        ttlSeconds: 7200,
      });
      const short = await grant(server, (await createIdentity(server)).id, {
        scope,
        ttlSeconds: 600,
      });

      dataOf(await setPolicy(scope, { maxTtlSeconds: 3600 }));

      const { grantsOutlivingPolicy } = await policyOf(scope);
      // The admin's own grant (the definer's) is permanent too.
      const outliving = grantsOutlivingPolicy.map((g) => g.id);
      expect(outliving).toContain(permanent.id);
      expect(outliving).toContain(long.id);
      expect(outliving).not.toContain(short.id);
      expect(grantsOutlivingPolicy.find((g) => g.id === long.id)?.expiresAt).toBe(long.expiresAt);
      const [event] = await eventsAbout('scope.policy_changed', scope);
      expect(event?.details.outlivingGrantIds).toEqual(expect.arrayContaining(outliving));
    });
  });

  describe('requiresApproval', () => {
    it('should refuse grant with FORBIDDEN saying to use requestAccess', async () => {
      const scope = await defineScope(server);
      dataOf(await setPolicy(scope, { requiresApproval: true }));
      const target = await createIdentity(server);

      const error = await refused(
        () =>
          gql(server.url, server.adminKey, GRANT, {
            input: { identityId: target.id, scope, reason: 'Direct.', ttlSeconds: 60 },
          }),
        'FORBIDDEN',
        'requestAccess',
      );
      expect(error.extensions).toMatchObject({ policy: 'requiresApproval', use: 'requestAccess' });
    });

    it('should leave direct grants made before the policy in place', async () => {
      const scope = await defineScope(server);
      const target = await createIdentity(server);
      const before = await grant(server, target.id, { scope });

      dataOf(await setPolicy(scope, { requiresApproval: true }));

      const check = dataOf(
        await gql(
          server.url,
          server.adminKey,
          'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed grant { id } } }',
          { id: target.id, scope },
        ),
      );
      expect(check.check).toEqual({ allowed: true, grant: { id: before.id } });
    });
  });

  describe('sensitive', () => {
    it('should flag grant.created of a sensitive scope with sensitive: true, and no other', async () => {
      const sensitive = await defineScope(server);
      const ordinary = await defineScope(server);
      dataOf(await setPolicy(sensitive, { sensitive: true }));
      const target = await createIdentity(server);

      const flagged = await grant(server, target.id, { scope: sensitive });
      const plain = await grant(server, target.id, { scope: ordinary });

      const [flaggedEvent] = await eventsAbout('grant.created', flagged.id);
      const [plainEvent] = await eventsAbout('grant.created', plain.id);
      expect(flaggedEvent?.details.sensitive).toBe(true);
      expect(plainEvent?.details).not.toHaveProperty('sensitive');
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordChange } from '../../src/modules/audit/record-change.js';
import { authenticate } from '../../src/modules/keys/authenticate.js';
import { runChange } from '../../src/modules/revision/run-change.js';
import { accessEvents } from '../fixtures/access-log.js';
import { engines } from '../fixtures/engines.js';
import { eventually } from '../fixtures/eventually.js';
import { expectError, expectNoData } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import { createIdentity, defineScope, identityWithGrants, unique } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const CHECK = `query($id: ID!, $scope: String!, $at: Revision) {
  check(identityId: $id, scope: $scope, atLeastRevision: $at) { allowed revision }
}`;

/** The `Keyholder-Revision` header (throws when it is missing). */
function headerRevision(response: GqlResponse<unknown>): bigint {
  const value = response.headers.get('keyholder-revision');
  if (value === null)
    throw new Error(`No keyholder-revision header: ${JSON.stringify(response.body)}`);
  expect(value).toMatch(/^\d+$/);
  return BigInt(value);
}

function extensionsOf(response: GqlResponse<unknown>): Record<string, unknown> {
  return (response.body as { extensions?: Record<string, unknown> }).extensions ?? {};
}

describe.each(engines())('revisions on %s', (engine) => {
  let server: TestServer;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  /** `revision_head.value`, read directly. */
  const head = async (): Promise<bigint> => {
    const [row] = await server.database.query<{ value: string }>(
      'select value::text as value from revision_head',
    );
    return BigInt(row?.value ?? '-1');
  };

  beforeAll(async () => {
    server = await startTestServer(engine, { accessLog: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should return a strictly increasing revision for every change, in the header and in extensions', async () => {
    const scope = await defineScope(server);
    const target = await createIdentity(server);
    const changes = [
      () =>
        asAdmin(
          'mutation($n: String!) { createIdentity(input: { name: $n, kind: SERVICE }) { id } }',
          { n: unique('rev') },
        ),
      () =>
        asAdmin(
          'mutation($id: ID!, $s: String!) { grant(input: { identityId: $id, scope: $s, reason: "Rev." }) { id } }',
          { id: target.id, s: scope },
        ),
      () =>
        asAdmin(
          'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "k" }) { secret } }',
          {
            id: target.id,
          },
        ),
      () => asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: target.id }),
    ];
    let previous = await head();
    for (const change of changes) {
      const response = await change();
      dataOf(response);
      const revision = headerRevision(response);
      expect(revision).toBeGreaterThan(previous);
      expect(extensionsOf(response)).toMatchObject({
        revision: String(revision),
        committedRevision: String(revision),
      });
      expect(await head()).toBe(revision);
      previous = revision;
    }
  });

  it('should carry the highest revision when one request makes several changes', async () => {
    const before = await head();
    const response = await asAdmin(
      `mutation($a: String!, $b: String!) {
        a: createIdentity(input: { name: $a, kind: SERVICE }) { id }
        b: createIdentity(input: { name: $b, kind: SERVICE }) { id }
      }`,
      { a: unique('rev-a'), b: unique('rev-b') },
    );

    dataOf(response);
    expect(headerRevision(response)).toBe(before + 2n);
    expect(extensionsOf(response).committedRevision).toBe(String(before + 2n));
    expect(await head()).toBe(before + 2n);
  });

  it("should carry the current head on a query's header and on its decisions", async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    const current = await head();

    const response = await asAdmin(CHECK, { id: holder.id, scope });

    expect(dataOf(response).check).toEqual({ allowed: true, revision: String(current) });
    expect(headerRevision(response)).toBe(current);
    expect(extensionsOf(response)).toEqual({ revision: String(current) });
  });

  it('should not advance the revision for access events', async () => {
    const me = dataOf(await asAdmin('{ me { id } }')).me as { id: string };
    const before = await head();
    const written = (await accessEvents(server, me.id)).length;

    for (let i = 0; i < 3; i += 1) {
      const response = await asAdmin('{ scopes { name } }');
      dataOf(response);
      expect(headerRevision(response)).toBe(before);
    }
    await eventually(
      () => accessEvents(server, me.id),
      (events) => events.length >= written + 3,
    );

    expect(await head()).toBe(before);
  });

  it('should return no committed revision for a refused mutation and leave the head alone', async () => {
    const holder = await identityWithGrants(server, [await defineScope(server)]);
    const revoke = 'mutation($id: ID!) { revokeGrant(id: $id, reason: "Done.") { id } }';
    dataOf(await asAdmin(revoke, { id: holder.grants[0]?.id }));
    const before = await head();

    const refused = await asAdmin(revoke, { id: holder.grants[0]?.id });

    expectError(refused, 'CONFLICT', 'already revoked');
    expect(extensionsOf(refused).committedRevision).toBeUndefined();
    expect(headerRevision(refused)).toBe(before);
    expect(await head()).toBe(before);
  });

  it('should report no revision for a change rolled back after writing its audit event', async () => {
    const auth = await authenticate(server.database, server.adminKey);
    const before = await head();

    await expect(
      runChange(server.database, auth.caller, async (tx) => {
        await recordChange(tx, auth.caller, {
          action: 'identity.created',
          // An id no row has: the event is what is rolled back.
          subjectId: '00000000-0000-4000-8000-00000000dead',
          details: {},
        });
        throw new Error('Rolled back on purpose.');
      }),
    ).rejects.toThrow('Rolled back on purpose.');

    expect(auth.caller.revisions?.committed).toBeNull();
    expect(await head()).toBe(before);
  });

  describe('check(atLeastRevision:)', () => {
    let holder: { id: string };
    let scope: string;

    beforeAll(async () => {
      scope = await defineScope(server);
      holder = await identityWithGrants(server, [scope]);
    });

    it('should decide at once when the instance has seen the revision asked for', async () => {
      const current = await head();

      for (const at of [String(current), Number(current), '0', `00${current}`]) {
        const response = await asAdmin(CHECK, { id: holder.id, scope, at });
        expect(dataOf(response).check).toEqual({ allowed: true, revision: String(current) });
      }
    });

    it('should wait for a revision being committed and decide on the state that has it', async () => {
      const [taken] = await server.database.query<{ value: string }>(
        "select nextval('keyholder_revision_seq')::text as value",
      );
      const pending = BigInt(taken?.value ?? '0');
      setTimeout(() => void createIdentity(server), 30);

      const response = await asAdmin(CHECK, { id: holder.id, scope, at: String(pending) });

      const decision = dataOf(response).check as { allowed: boolean; revision: string };
      expect(decision.allowed).toBe(true);
      expect(BigInt(decision.revision)).toBeGreaterThan(pending);
      expect(headerRevision(response)).toBe(BigInt(decision.revision));
    });

    it('should refuse with CONFLICT, naming both revisions, a revision issued but never visible', async () => {
      const [taken] = await server.database.query<{ value: string }>(
        "select nextval('keyholder_revision_seq')::text as value",
      );
      const current = await head();

      const response = await asAdmin(CHECK, { id: holder.id, scope, at: taken?.value });

      const error = expectError(
        response,
        'CONFLICT',
        `This instance sees revision ${current}, older than revision ${taken?.value}`,
      );
      expect(error.extensions).toMatchObject({
        revision: String(current),
        atLeastRevision: taken?.value,
      });
      expectNoData(response);
    });

    it('should refuse a revision not issued yet with BAD_USER_INPUT', async () => {
      const [issued] = await server.database.query<{ value: string }>(
        'select last_value::text as value from keyholder_revision_seq',
      );
      const future = String(BigInt(issued?.value ?? '0') + 1000n);

      const response = await asAdmin(CHECK, { id: holder.id, scope, at: future });

      expectError(
        response,
        'BAD_USER_INPUT',
        `Revision ${future} has not been issued yet: the newest revision is ${issued?.value}.`,
      );
    });

    it.each([
      ['a negative number', -1],
      ['a negative string', '-1'],
      ['a fraction', 1.5],
      ['words', 'latest'],
      ['an empty string', ''],
      ['a number beyond 2^53', 2 ** 60],
      ['a string beyond bigint', '9223372036854775808'],
      ['a boolean', true],
    ])('should refuse %s as atLeastRevision with BAD_USER_INPUT', async (_, at) => {
      const response = await asAdmin(CHECK, { id: holder.id, scope, at });

      expectError(response, 'BAD_USER_INPUT', /Revision must be a non-negative whole number/);
      expect(response.body.data ?? null).toBeNull();
    });

    it('should refuse a malformed literal in the document as a validation failure', async () => {
      const response = await asAdmin(
        `{ check(identityId: "${holder.id}", scope: "${scope}", atLeastRevision: -3) { allowed } }`,
      );

      expectError(
        response,
        'GRAPHQL_VALIDATION_FAILED',
        'Revision must be a non-negative whole number, as a string of digits like "42"; got -3.',
      );
    });
  });
});

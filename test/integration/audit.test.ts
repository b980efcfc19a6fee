import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SCOPES } from '../../src/modules/scopes/builtin-scopes.js';
import { engines } from '../fixtures/engines.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  createKey,
  defineScope,
  grant,
  identityWithGrants,
  uniqueScope,
} from '../fixtures/seed.js';
import { countRows, startTestServer, type TestServer } from '../fixtures/test-server.js';

interface AuditRow extends Record<string, unknown> {
  id: string;
  action: string;
  actor_id: string | null;
  subject_id: string;
  details: Record<string, unknown>;
  /** The writing transaction's id: equal ids mean the same transaction. */
  tx: string;
}

describe.each(engines())('audit of changes on %s', (engine) => {
  let server: TestServer;

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  /** Runs `change` and returns the audit rows it wrote, oldest first. */
  async function auditOf(change: () => Promise<unknown>): Promise<AuditRow[]> {
    const [last] = await server.database.query<{ id: string | null }>(
      'select max(id)::text as id from audit_events',
    );
    await change();
    const rows = await server.database.query<AuditRow>(
      `select id::text as id, action, actor_id::text as actor_id, subject_id,
              details, xmin::text as tx
       from audit_events where id > $1 order by id`,
      [last?.id ?? '0'],
    );
    return rows.map((r) => ({
      ...r,
      details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details,
    }));
  }

  /** The id of the transaction that last wrote a row. */
  async function txOf(table: string, column: string, value: string): Promise<string | undefined> {
    const [row] = await server.database.query<{ tx: string }>(
      `select xmin::text as tx from ${table} where ${column} = $1`,
      [value],
    );
    return row?.tx;
  }

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should have recorded the bootstrap with no actor: the built-in scopes, the admin, its key and its grants', async () => {
    const rows = await server.database.query<AuditRow>(
      `select action, actor_id::text as actor_id, subject_id from audit_events
       where actor_id is null order by seq`,
    );

    expect(rows.map((r) => r.action)).toEqual([
      ...BUILTIN_SCOPES.map(() => 'scope.defined'),
      'identity.created',
      'apikey.created',
      ...BUILTIN_SCOPES.map(() => 'grant.created'),
    ]);
    expect(rows[BUILTIN_SCOPES.length]).toEqual({
      action: 'identity.created',
      actor_id: null,
      subject_id: server.adminId,
    });
    const grants = await countRows(
      server,
      'grants',
      `identity_id = $1 and id::text in (select subject_id from audit_events where action = 'grant.created' and actor_id is null)`,
      [server.adminId],
    );
    expect(grants).toBe(BUILTIN_SCOPES.length);
  });

  it('should write one identity.created event in the same transaction as the identity', async () => {
    let id = '';
    const rows = await auditOf(async () => {
      id = (await createIdentity(server, { name: 'audited-identity', kind: 'AGENT' })).id;
    });

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'identity.created',
        actor_id: server.adminId,
        subject_id: id,
        details: expect.objectContaining({
          after: {
            name: 'audited-identity',
            kind: 'AGENT',
            externalId: null,
            ownerId: server.adminId,
          },
        }),
      }),
    ]);
    expect(rows[0]?.tx).toBe(await txOf('identities', 'id', id));
  });

  it('should write one identity.disabled event, and none when disabling again', async () => {
    const target = await createIdentity(server);
    const disable = () =>
      asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: target.id }).then(
        dataOf,
      );

    const first = await auditOf(disable);
    const again = await auditOf(disable);

    expect(first).toEqual([
      expect.objectContaining({
        action: 'identity.disabled',
        actor_id: server.adminId,
        subject_id: target.id,
      }),
    ]);
    expect(first[0]?.tx).toBe(await txOf('identities', 'id', target.id));
    expect(again).toEqual([]);
  });

  it('should write one apikey.created event without the secret', async () => {
    const owner = await createIdentity(server);
    let key = { id: '', secret: '', prefix: '' };
    const rows = await auditOf(async () => {
      key = await createKey(server, owner.id, { name: 'audited' });
    });

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'apikey.created',
        actor_id: server.adminId,
        subject_id: key.id,
        details: expect.objectContaining({
          after: expect.objectContaining({
            identityId: owner.id,
            name: 'audited',
            prefix: key.prefix,
          }),
        }),
      }),
    ]);
    expect(JSON.stringify(rows)).not.toContain(key.secret);
    expect(rows[0]?.tx).toBe(await txOf('api_keys', 'id', key.id));
  });

  it('should write one apikey.revoked event', async () => {
    const owner = await identityWithGrants(server, []);
    const rows = await auditOf(() =>
      asAdmin('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: owner.keyId }).then(
        dataOf,
      ),
    );

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'apikey.revoked',
        actor_id: server.adminId,
        subject_id: owner.keyId,
      }),
    ]);
    expect(rows[0]?.tx).toBe(await txOf('api_keys', 'id', owner.keyId));
  });

  it("should write scope.defined and the definer's grant.created in the scope's transaction", async () => {
    const name = uniqueScope();
    const rows = await auditOf(() => defineScope(server, { name }));
    const [definerGrant] = await server.database.query<{ id: string }>(
      'select id::text as id from grants where scope = $1',
      [name],
    );

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'scope.defined',
        actor_id: server.adminId,
        subject_id: name,
      }),
      expect.objectContaining({
        action: 'grant.created',
        actor_id: server.adminId,
        subject_id: definerGrant?.id,
      }),
    ]);
    const scopeTx = await txOf('scopes', 'name', name);
    expect(rows.map((r) => r.tx)).toEqual([scopeTx, scopeTx]);
    expect(await txOf('grants', 'id', definerGrant?.id ?? '')).toBe(scopeTx);
  });

  it('should write one grant.created event with the reason', async () => {
    const scope = await defineScope(server);
    const grantee = await createIdentity(server);
    let grantId = '';
    const rows = await auditOf(async () => {
      grantId = (await grant(server, grantee.id, { scope, reason: 'Audited grant.' })).id;
    });

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'grant.created',
        actor_id: server.adminId,
        subject_id: grantId,
        details: expect.objectContaining({
          reason: 'Audited grant.',
          after: expect.objectContaining({ identityId: grantee.id, scope }),
        }),
      }),
    ]);
    expect(rows[0]?.tx).toBe(await txOf('grants', 'id', grantId));
  });

  it('should write one grant.revoked event with the reason', async () => {
    const scope = await defineScope(server);
    const grantee = await identityWithGrants(server, [scope]);
    const grantId = grantee.grants[0]?.id ?? '';
    const rows = await auditOf(() =>
      asAdmin('mutation($id: ID!) { revokeGrant(id: $id, reason: "Audited revoke.") { id } }', {
        id: grantId,
      }).then(dataOf),
    );

    expect(rows).toEqual([
      expect.objectContaining({
        action: 'grant.revoked',
        actor_id: server.adminId,
        subject_id: grantId,
        details: expect.objectContaining({ reason: 'Audited revoke.' }),
      }),
    ]);
    expect(rows[0]?.tx).toBe(await txOf('grants', 'id', grantId));
  });

  it('should name the acting identity, not the admin, when another identity acts', async () => {
    const actor = await identityWithGrants(server, ['identities:write', 'identities:read']);
    let id = '';
    const rows = await auditOf(async () => {
      id = (await createIdentity(server, { as: actor.key })).id;
    });

    expect(rows).toEqual([
      expect.objectContaining({ action: 'identity.created', actor_id: actor.id, subject_id: id }),
    ]);
  });

  it('should write nothing for refused changes', async () => {
    const scope = await defineScope(server);
    const outsider = await identityWithGrants(server, ['grants:write', 'grants:read']);
    const holder = await identityWithGrants(server, [scope]);
    const before = await countRows(server, 'audit_events');

    const refusals = [
      // forbidden by the directive
      await gql(
        server.url,
        holder.key,
        'mutation { createIdentity(input: { name: "x", kind: USER }) { id } }',
      ),
      // forbidden by delegation rules
      await gql(
        server.url,
        outsider.key,
        'mutation($input: GrantInput!) { grant(input: $input) { id } }',
        { input: { identityId: holder.id, scope, reason: 'No.' } },
      ),
      // bad input
      await asAdmin('mutation($input: GrantInput!) { grant(input: $input) { id } }', {
        input: { identityId: holder.id, scope, reason: '  ' },
      }),
      // conflict
      await asAdmin('mutation($input: GrantInput!) { grant(input: $input) { id } }', {
        input: { identityId: holder.id, scope, reason: 'Again.' },
      }),
      // not found
      await asAdmin(
        'mutation { disableIdentity(id: "0b7e5e52-9a55-4c1e-8d0a-6f6b2c3d4e5f") { id } }',
      ),
    ];

    expect(refusals.map((r) => r.body.errors?.[0]?.extensions?.code)).toEqual([
      'FORBIDDEN',
      'FORBIDDEN',
      'BAD_USER_INPUT',
      'CONFLICT',
      'NOT_FOUND',
    ]);
    const [, delegation] = refusals;
    if (delegation === undefined) throw new Error('The delegation refusal is missing.');
    expectError(delegation, 'FORBIDDEN', 'requires holding it with grantable: true');
    expect(await countRows(server, 'audit_events')).toBe(before);
  });

  it('should write nothing for reads', async () => {
    const before = await countRows(server, 'audit_events');

    dataOf(
      await asAdmin('{ me { id grants { id } } identities { nodes { id } } scopes { name } }'),
    );
    dataOf(
      await asAdmin(
        'query($id: ID!) { check(identityId: $id, scope: "grants:read") { allowed } }',
        {
          id: server.adminId,
        },
      ),
    );

    expect(await countRows(server, 'audit_events')).toBe(before);
  });

  it('should record the request a change came in on: its id, the client address and user agent', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${server.adminKey}`,
        'user-agent': 'audit-spec/1.0',
      },
      body: JSON.stringify({
        query: 'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        variables: { input: { name: `request-meta-${Date.now()}`, kind: 'SERVICE' } },
      }),
    });
    const body = (await response.json()) as { data: { createIdentity: { id: string } } };
    const requestId = response.headers.get('x-request-id');

    const [row] = await server.database.query<{ details: { request?: unknown } }>(
      `select details from audit_events where action = 'identity.created' and subject_id = $1`,
      [body.data.createIdentity.id],
    );

    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(row?.details.request).toEqual({
      requestId,
      clientIp: expect.stringMatching(/127\.0\.0\.1$/),
      userAgent: 'audit-spec/1.0',
    });
  });
});

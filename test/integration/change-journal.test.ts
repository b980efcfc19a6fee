import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdingsStatement, tokenMembershipsSql } from '../../src/modules/grants/live-grants.js';
import type { AuthenticationCacheStats } from '../../src/modules/keys/authentication-cache.js';
import { engines } from '../fixtures/engines.js';
import { expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type SeededPrincipal,
  unique,
} from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { startTwoInstances, type TwoInstances } from '../fixtures/two-instances.js';

const CHECK = `query($id: ID!, $scope: String!) {
  check(identityId: $id, scope: $scope) { allowed }
}`;

type Via = 'hit' | 'carried' | 'miss' | 'neither';

async function cacheStats(server: TestServer): Promise<AuthenticationCacheStats> {
  const body = (await (await fetch(`${server.metricsUrl}/healthz`)).json()) as {
    authenticationCache: AuthenticationCacheStats;
  };
  return body.authenticationCache;
}

/**
 * Sends `holder`'s check of `scope` about `about` (itself unless said) to `server` and says how it
 * was authenticated: from a current entry (`hit`), from an older entry no change since had touched
 * (`carried`), by the authentication statement (`miss`), or neither (refused before either).
 */
async function checkAs(
  server: TestServer,
  holder: { readonly key: string; readonly id: string },
  scope: string,
  about: string = holder.id,
): Promise<{ response: GqlResponse; via: Via; allowed: boolean | undefined }> {
  const before = await cacheStats(server);
  const response = await gql(server.url, holder.key, CHECK, { id: about, scope });
  const after = await cacheStats(server);
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  const carried = after.carried - before.carried;
  expect(hits + misses, 'one authentication per request').toBeLessThanOrEqual(1);
  const via: Via =
    carried === 1 ? 'carried' : hits === 1 ? 'hit' : misses === 1 ? 'miss' : 'neither';
  const check = (response.body.data as { check?: { allowed: boolean } } | null | undefined)?.check;
  return { response, via, allowed: check?.allowed };
}

describe.each(engines())('the change journal on %s', (engine) => {
  let server: TestServer;
  const as = (key: string, query: string, variables?: Record<string, unknown>) =>
    gql(server.url, key, query, variables);
  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    as(server.adminKey, query, variables);

  beforeAll(async () => {
    // No sweeper: nothing but the specs' own changes advances the revision.
    server = await startTestServer(engine, { expirySweeper: false });
  });

  afterAll(async () => {
    await server?.stop();
  });

  /**
   * Fills `holder`'s entry, then makes a change that touches only someone else: the entry must be
   * carried past it. Every spec below then makes the change it is about to an entry in that state.
   */
  async function warmAndCarry(holder: SeededPrincipal, scope: string, about = holder.id) {
    await checkAs(server, holder, scope, about);
    await createIdentity(server);
    const carried = await checkAs(server, holder, scope, about);
    expect(carried.via).toBe('carried');
    return carried;
  }

  it('should answer a caller from its entry, with no statement, after a change to someone else', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    const other = await identityWithGrants(server, []);
    await checkAs(server, holder, scope);
    const hit = await checkAs(server, holder, scope);

    await grant(server, other.id, { scope });
    const statements = server.database.statements.count;
    const carried = await checkAs(server, holder, scope);
    const counted = server.database.statements.count - statements;
    const again = await checkAs(server, holder, scope);

    expect(hit.via).toBe('hit');
    expect(carried.via).toBe('carried');
    expect(carried.allowed).toBe(true);
    // Only background work (usage flushes, a lease renewal) may run a statement meanwhile; the
    // authentication statement would make it at least one more than that, every time.
    expect(counted).toBeLessThanOrEqual(1);
    expect(again.via).toBe('hit');
  });

  const revokeGrant = (id: string | undefined, cascade = false) =>
    asAdmin(
      'mutation($id: ID!, $cascade: Boolean) { revokeGrant(id: $id, reason: "Moved on.", cascade: $cascade) { id } }',
      { id, cascade },
    ).then(dataOf);

  /**
   * Carries `holder`'s entry past an unrelated change (its check answering `before`), makes
   * `change`, and expects the next check to run the authentication statement and answer `after`.
   */
  async function expectDecidedAtOnce(
    holder: SeededPrincipal,
    scope: string,
    change: () => Promise<unknown>,
    { before, after, about = holder.id }: { before: boolean; after: boolean; about?: string },
  ) {
    const carried = await warmAndCarry(holder, scope, about);
    await change();
    const next = await checkAs(server, holder, scope, about);

    expect(carried.allowed).toBe(before);
    expect(next.via).toBe('miss');
    expect(next.allowed).toBe(after);
  }

  it('should deny at once a grant revoked from the caller after its entry was carried', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);

    await expectDecidedAtOnce(holder, scope, () => revokeGrant(holder.grants[0]?.id), {
      before: true,
      after: false,
    });
  });

  it('should allow at once a grant made to the caller after its entry was carried', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, []);

    await expectDecidedAtOnce(holder, scope, () => grant(server, holder.id, { scope }), {
      before: false,
      after: true,
    });
  });

  it("should refuse at once the caller's key revoked after its entry was carried", async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    await warmAndCarry(holder, scope);

    dataOf(
      await asAdmin('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: holder.keyId }),
    );

    expectUnauthenticated((await checkAs(server, holder, scope)).response, 'has been revoked');
  });

  it('should refuse at once a caller disabled after its entry was carried', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    await warmAndCarry(holder, scope);

    dataOf(
      await asAdmin('mutation($id: ID!) { disableIdentity(id: $id) { id } }', { id: holder.id }),
    );

    expectUnauthenticated((await checkAs(server, holder, scope)).response, 'disabled');
  });

  it("should deny an owned agent at once when its owner's grant is revoked after the agent's entry was carried", async () => {
    const scope = await defineScope(server);
    const owner = await identityWithGrants(server, [{ scope, grantable: true }]);
    const agent = await identityWithGrants(server, [scope], { kind: 'AGENT', ownerId: owner.id });

    await expectDecidedAtOnce(agent, scope, () => revokeGrant(owner.grants[0]?.id), {
      before: true,
      after: false,
    });
  });

  it("should deny at once a grantee whose grant fell with its granter's (cascade) after the grantee's entry was carried", async () => {
    const scope = await defineScope(server);
    const granter = await identityWithGrants(server, [
      { scope, grantable: true },
      'grants:write',
      'grants:read',
    ]);
    const grantee = await identityWithGrants(server, []);
    await grant(server, grantee.id, { scope, as: granter.key });

    await expectDecidedAtOnce(grantee, scope, () => revokeGrant(granter.grants[0]?.id, true), {
      before: true,
      after: false,
    });
  });

  it('should deny at once a member removed from the group holding the grant after its entry was carried', async () => {
    const scope = await defineScope(server);
    const member = await identityWithGrants(server, []);
    const group = dataOf(
      await asAdmin('mutation($input: CreateGroupInput!) { createGroup(input: $input) { id } }', {
        input: { name: unique('team') },
      }),
    ).createGroup as { id: string };
    dataOf(
      await asAdmin('mutation($input: GrantInput!) { grant(input: $input) { id } }', {
        input: { groupId: group.id, scope, reason: 'The team needs it.' },
      }),
    );
    const members = { groupId: group.id, identityIds: [member.id] };
    dataOf(
      await asAdmin(
        'mutation($input: AddGroupMembersInput!) { addGroupMembers(input: $input) { id } }',
        { input: { ...members, reason: 'Joined.' } },
      ),
    );

    await expectDecidedAtOnce(
      member,
      scope,
      () =>
        asAdmin(
          'mutation($input: RemoveGroupMembersInput!) { removeGroupMembers(input: $input) { id } }',
          { input: { ...members, reason: 'Left.' } },
        ).then(dataOf),
      { before: true, after: false },
    );
  });

  it('should deny at once a scope dropped from a role the caller holds after its entry was carried', async () => {
    const scope = await defineScope(server);
    const kept = await defineScope(server);
    const role = unique('role');
    dataOf(
      await asAdmin('mutation($input: DefineRoleInput!) { defineRole(input: $input) { name } }', {
        input: { name: role, scopes: [{ scope }, { scope: kept }] },
      }),
    );
    const holder = await identityWithGrants(server, []);
    dataOf(
      await asAdmin('mutation($input: GrantInput!) { grant(input: $input) { id } }', {
        input: { identityId: holder.id, role, reason: 'Does the job.' },
      }),
    );

    await expectDecidedAtOnce(
      holder,
      scope,
      () =>
        asAdmin(
          `mutation($role: String!, $scopes: [RoleScopeInput!]!) {
            setRoleScopes(role: $role, scopes: $scopes, reason: "Narrowed.") { name }
          }`,
          { role, scopes: [{ scope: kept }] },
        ).then(dataOf),
      { before: true, after: false },
    );
  });

  it("should deny at once under a scope condition set after the caller's entry was carried", async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);

    await expectDecidedAtOnce(
      holder,
      scope,
      () =>
        asAdmin(
          'mutation($scope: String!) { setScopePolicy(scope: $scope, input: { condition: "false" }) { name } }',
          { scope },
        ).then(dataOf),
      { before: true, after: false },
    );
  });

  it('should answer a check about another identity with that identity’s revocation, after the entry was carried', async () => {
    const scope = await defineScope(server);
    const auditor = await identityWithGrants(server, ['grants:read']);
    const subject = await identityWithGrants(server, [scope]);

    await expectDecidedAtOnce(auditor, scope, () => revokeGrant(subject.grants[0]?.id), {
      before: true,
      after: false,
      about: subject.id,
    });
  });

  it('should take what a change touched from the journal, never from the text of a notification', async () => {
    const scope = await defineScope(server);
    const holder = await identityWithGrants(server, [scope]);
    await warmAndCarry(holder, scope);
    const [head] = await server.database.query<{ value: string }>(
      'select value::text as value from revision_head',
    );
    const next = (BigInt(head?.value ?? '0') + 1n).toString();

    // Forged by anyone connected to the database: "the next change touched nobody".
    await server.database.query("select pg_notify('keyholder_change', $1)", [
      `${next}:${head?.value}:`,
    ]);
    await revokeGrant(holder.grants[0]?.id);
    const after = await checkAs(server, holder, scope);

    expect(after.via).toBe('miss');
    expect(after.allowed).toBe(false);
  });

  it('should mark every table an authentication reads, and no other, as touching what it changes', async () => {
    const rows = await server.database.query<{ table: string; fn: string }>(
      `select c.relname as table, p.proname as fn
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_proc p on p.oid = t.tgfoid
       where not t.tgisinternal and p.proname like 'keyholder_touch%'`,
    );
    const touching = new Set(rows.map((row) => row.table));
    const tables = (
      await server.database.query<{ name: string }>(
        "select tablename as name from pg_tables where schemaname = 'public'",
      )
    ).map((row) => row.name);
    // What the authentication statements read, API keys and tokens alike.
    const statement = holdingsStatement(
      'k.id',
      'api_keys k cross join (select null::uuid as identity_id, null::text as issuer, null::text[] as external_ids) tk',
      'k.identity_id',
      'true',
      'k.scopes, k.jkt',
      tokenMembershipsSql('i.id', {
        identity: 'tk.identity_id',
        issuer: 'tk.issuer',
        externalIds: 'tk.external_ids',
      }),
    );
    const read = tables.filter((table) => new RegExp(`\\b${table}\\b`).test(statement));
    // Tables no authentication reads (changes to them need not reach any cached entry), each
    // with why; a new table fails this spec until it is marked, or listed here with its reason.
    const unread: Record<string, string> = {
      revision_head: 'read, but it is the revision itself',
      revision_changes: 'the change journal itself',
      instance_leases: 'leases of instances, not anyone’s permissions',
      dpop_proofs: 'proof replay records, checked per request',
      grant_usage: 'when grants were last used',
      access_requests: 'requests; an approval grants (a grants row)',
      access_reviews: 'reviews; a decision revokes (a grants row)',
      access_review_items: 'review items; as above',
      audit_events: 'the log',
      audit_event_scopes: 'the log’s search index',
      audit_seals: 'the log’s seals',
      audit_checkpoints: 'the log’s checkpoints',
      webhooks: 'receivers',
      webhook_deliveries: 'deliveries',
      __drizzle_migrations: 'migrations',
    };

    for (const table of read) {
      if (table === 'revision_head') continue;
      expect(touching, `${table} is read by the authentication statement`).toContain(table);
    }
    for (const table of tables) {
      expect(
        touching.has(table) || table in unread,
        `${table} neither touches nor is listed as unread`,
      ).toBe(true);
      expect(touching.has(table) && table in unread, `${table} is both`).toBe(false);
    }
    expect(read).toEqual(
      expect.arrayContaining([
        'grants',
        'api_keys',
        'identities',
        'group_members',
        'role_scopes',
        'scopes',
      ]),
    );
  });
});

// Two instances need one database they both reach over the network: PGlite lives inside one
// process, so this spec runs on PostgreSQL only.
describe.each(engines())('the change journal across instances on %s', (engine) => {
  const shared = engine === 'postgres';
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    if (!shared) return;
    instances = await startTwoInstances({ expirySweeper: false });
    ({ a, b } = instances);
  });

  afterAll(async () => {
    await instances?.stop();
  });

  it.skipIf(!shared)(
    'should carry an entry past a change made on the other instance, and deny at once a revocation made there (PostgreSQL only: PGlite cannot be shared by two servers)',
    async () => {
      const scope = await defineScope(a);
      const holder = await identityWithGrants(a, [scope]);
      await checkAs(b, holder, scope);
      await checkAs(b, holder, scope);

      await createIdentity(a);
      const carried = await checkAs(b, holder, scope);
      dataOf(
        await gql(
          a.url,
          a.adminKey,
          'mutation($id: ID!) { revokeGrant(id: $id, reason: "Elsewhere.") { id } }',
          { id: holder.grants[0]?.id },
        ),
      );
      const after = await checkAs(b, holder, scope);

      expect(carried.via).toBe('carried');
      expect(carried.allowed).toBe(true);
      expect(after.via).toBe('miss');
      expect(after.allowed).toBe(false);
    },
  );
});

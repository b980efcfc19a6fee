import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError, expectNoData } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import {
  createIdentity,
  defineScope,
  grant,
  identityWithGrants,
  type Target,
  unique,
} from '../fixtures/seed.js';
import { countRows, snapshot, startTestServer, type TestServer } from '../fixtures/test-server.js';

interface AuditNode {
  id: string;
  seq: string;
  at: string;
  action: string;
  actorId: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  actor: { id: string; name: string } | null;
}

interface AuditPage {
  auditEvents: {
    nodes: AuditNode[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

interface Verification {
  ok: boolean;
  checked: number;
  firstBrokenId: string | null;
  reason: string | null;
  lastSeq: string | null;
  lastHash: string | null;
}

interface ChainRow extends Record<string, unknown> {
  id: string;
  seq: string;
  prev_hash: string;
  hash: string;
  details: string;
}

const SEARCH = `query($first: Int, $after: String, $filter: AuditFilter) {
  auditEvents(first: $first, after: $after, filter: $filter) {
    nodes { id seq at action actorId subjectId details prevHash hash actor { id name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const VERIFY = '{ verifyAuditLog { ok checked firstBrokenId reason lastSeq lastHash } }';

const HEX64 = /^[0-9a-f]{64}$/;

function search(
  server: TestServer,
  variables: { first?: number; after?: string; filter?: Record<string, unknown> } = {},
  key: string = server.adminKey,
): Promise<GqlResponse<AuditPage>> {
  return gql<AuditPage>(server.url, key, SEARCH, variables);
}

/** Every event matching `filter`, newest first, read page by page; also how many pages it took. */
async function readAll(
  server: TestServer,
  filter: Record<string, unknown> = {},
  first = 500,
): Promise<{ nodes: AuditNode[]; pages: number }> {
  const nodes: AuditNode[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = dataOf(
      await search(server, { first, filter, ...(after === undefined ? {} : { after }) }),
    ).auditEvents;
    pages += 1;
    nodes.push(...page.nodes);
    if (!page.pageInfo.hasNextPage) return { nodes, pages };
    if (page.pageInfo.endCursor === null) throw new Error('A page with a next page has no cursor.');
    after = page.pageInfo.endCursor;
  }
}

async function verify(server: TestServer): Promise<Verification> {
  return dataOf(await gql<{ verifyAuditLog: Verification }>(server.url, server.adminKey, VERIFY))
    .verifyAuditLog;
}

/** The whole log as stored, oldest first, with `details` as text so it compares exactly. */
function chain(server: TestServer): Promise<ChainRow[]> {
  return server.database.query<ChainRow>(
    `select id::text as id, seq::text as seq, prev_hash, hash, details::text as details
     from audit_events a order by a.seq`,
  );
}

/**
 * The seqs of entries that do not follow from their predecessor, computed in SQL alone: an
 * oracle for the chain that does not depend on verifyAuditLog.
 */
async function brokenInSql(server: TestServer): Promise<number[]> {
  const rows = await server.database.query<{ seq: string }>(
    `select c.seq::text as seq from (
       select a.seq, a.prev_hash, a.hash,
              keyholder_audit_hash(a.seq, a.prev_hash, a.at, a.action, a.actor_id, a.subject_id, a.details)
                as computed,
              lag(a.hash) over (order by a.seq) as previous_hash,
              lag(a.seq) over (order by a.seq) as previous_seq
       from audit_events a
     ) c
     where c.computed <> c.hash
        or c.prev_hash <> coalesce(c.previous_hash, repeat('0', 64))
        or c.seq <> coalesce(c.previous_seq, 0) + 1
     order by c.seq`,
  );
  return rows.map((r) => Number(r.seq));
}

async function rowAt(server: TestServer, seq: number): Promise<ChainRow> {
  const row = (await chain(server)).find((r) => r.seq === String(seq));
  if (row === undefined) throw new Error(`No audit row has seq ${seq}.`);
  return row;
}

/** A raw SQL statement and its parameters. */
type Statement = readonly [text: string, params?: readonly unknown[]];

/**
 * Runs raw statements against audit_events with its user triggers (append-only and chaining)
 * disabled, as an attacker with direct database access would, and re-enables them afterwards.
 */
async function behindTheApi(server: TestServer, statements: readonly Statement[]): Promise<void> {
  await server.database.query('alter table audit_events disable trigger user');
  try {
    for (const [text, params] of statements) await server.database.query(text, params ?? []);
  } finally {
    await server.database.query('alter table audit_events enable trigger user');
  }
}

/** A handful of changes made through the API (identities, a scope, grants), at least 8 events. */
async function seedChanges(target: Target): Promise<void> {
  const scope = await defineScope(target);
  const first = await createIdentity(target);
  await createIdentity(target);
  await grant(target, first.id, { scope, reason: 'Seeded for tampering.' });
  await createIdentity(target);
  await createIdentity(target);
}

describe.each(engines())('the audit log on %s', (engine) => {
  let server: TestServer;
  let adminName: string;
  let adminId: string;
  let scope: string;
  let grantee: { id: string };
  let revokedGrantId: string;
  let delegate: { id: string; key: string };
  let delegated: string[];

  const asAdmin = (query: string, variables?: Record<string, unknown>) =>
    gql(server.url, server.adminKey, query, variables);

  beforeAll(async () => {
    server = await startTestServer(engine);
    const me = dataOf(await asAdmin('{ me { id name } }')).me;
    adminName = me.name as string;
    adminId = me.id as string;
    scope = await defineScope(server);
    grantee = await createIdentity(server);
    revokedGrantId = (await grant(server, grantee.id, { scope, reason: 'Audit search spec.' })).id;
    dataOf(
      await asAdmin(
        'mutation($id: ID!) { revokeGrant(id: $id, reason: "Audit search spec is done.") { id } }',
        { id: revokedGrantId },
      ),
    );
    delegate = await identityWithGrants(server, ['identities:write', 'identities:read']);
    delegated = [];
    for (let i = 0; i < 3; i++) {
      delegated.push((await createIdentity(server, { as: delegate.key })).id);
    }
    for (let i = 0; i < 3; i++) await createIdentity(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('who may read it', () => {
    it('should refuse auditEvents with FORBIDDEN to a caller without audit:read', async () => {
      const outsider = await identityWithGrants(server, ['identities:read', 'grants:read']);

      const response = await search(server, {}, outsider.key);

      const error = expectError(response, 'FORBIDDEN', 'audit:read');
      expect(error.path).toEqual(['auditEvents']);
      expectNoData(response);
    });

    it('should refuse verifyAuditLog with FORBIDDEN to a caller without audit:read', async () => {
      const outsider = await identityWithGrants(server, ['identities:read', 'grants:read']);

      const response = await gql(server.url, outsider.key, VERIFY);

      const error = expectError(response, 'FORBIDDEN', 'audit:read');
      expect(error.path).toEqual(['verifyAuditLog']);
      expectNoData(response);
    });

    it('should let the bootstrap admin search and verify', async () => {
      expect(dataOf(await search(server, { first: 1 })).auditEvents.nodes).toHaveLength(1);
      expect((await verify(server)).checked).toBeGreaterThan(0);
    });

    it('should let a caller holding only audit:read search and verify', async () => {
      const auditor = await identityWithGrants(server, ['audit:read']);

      const page = dataOf(
        await gql<AuditPage>(
          server.url,
          auditor.key,
          '{ auditEvents(first: 5) { nodes { id seq action actorId details hash } } }',
        ),
      ).auditEvents;
      const verification = dataOf(
        await gql<{ verifyAuditLog: Verification }>(server.url, auditor.key, VERIFY),
      ).verifyAuditLog;

      expect(page.nodes).toHaveLength(5);
      expect(verification.checked).toBeGreaterThan(0);
    });

    it('should give an audit:read-only caller a null actor with FORBIDDEN where it may not read the identity', async () => {
      const auditor = await identityWithGrants(server, ['audit:read']);

      const response = await search(server, { first: 3 }, auditor.key);

      const nodes = response.body.data?.auditEvents.nodes ?? [];
      expect(nodes).toHaveLength(3);
      expect(nodes.every((n) => n.actor === null && n.actorId === server.adminId)).toBe(true);
      expectError(response, 'FORBIDDEN', 'identities:read');
      expect(response.body.errors?.map((e) => e.path)).toEqual(
        [0, 1, 2].map((i) => ['auditEvents', 'nodes', i, 'actor', 'id']),
      );
    });
  });

  describe('search', () => {
    it('should list events newest first, from the highest seq down', async () => {
      const [newest] = await server.database.query<{ seq: string }>(
        'select max(seq)::text as seq from audit_events',
      );

      const { nodes } = dataOf(await search(server, { first: 20 })).auditEvents;

      expect(nodes[0]?.seq).toBe(newest?.seq);
      const seqs = nodes.map((n) => Number(n.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('should page through the whole log with cursors, without duplicates or gaps', async () => {
      const stored = await server.database.query<{ id: string }>(
        'select id::text as id from audit_events order by seq desc',
      );

      const { nodes, pages } = await readAll(server, {}, 4);

      expect(pages).toBeGreaterThanOrEqual(3);
      expect(nodes.map((n) => n.id)).toEqual(stored.map((r) => r.id));
    });

    it('should end with hasNextPage false and no cursor past the last event', async () => {
      const total = await countRows(server, 'audit_events');

      const page = dataOf(await search(server, { first: total })).auditEvents;

      expect(page.nodes).toHaveLength(total);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it.each([0, -1, 501])('should refuse first: %i as BAD_USER_INPUT', async (first) => {
      const response = await search(server, { first });

      const error = expectError(response, 'BAD_USER_INPUT', 'first must be a whole number');
      expect(error.path).toEqual(['auditEvents']);
    });

    it('should accept first: 500', async () => {
      expect(dataOf(await search(server, { first: 500 })).auditEvents.nodes.length).toBe(
        await countRows(server, 'audit_events'),
      );
    });

    it('should refuse a cursor it did not return as BAD_USER_INPUT', async () => {
      const identityCursor = dataOf(
        await asAdmin('{ identities(first: 1) { pageInfo { endCursor } } }'),
      ).identities.pageInfo.endCursor as string;

      for (const after of [
        'not-a-cursor',
        identityCursor,
        Buffer.from('seq:x').toString('base64url'),
      ]) {
        const response = await search(server, { first: 5, after });
        const error = expectError(response, 'BAD_USER_INPUT', '"after" is not a cursor');
        expect(error.path).toEqual(['auditEvents']);
      }
    });

    it('should filter by an exact action', async () => {
      const stored = await countRows(server, 'audit_events', `action = 'grant.created'`);

      const { nodes } = await readAll(server, { action: 'grant.created' });

      expect(nodes.length).toBe(stored);
      expect(nodes.length).toBeGreaterThan(0);
      expect(new Set(nodes.map((n) => n.action))).toEqual(new Set(['grant.created']));
    });

    it('should not treat an action without a trailing . or * as a prefix', async () => {
      expect((await readAll(server, { action: 'grant' })).nodes).toEqual([]);
    });

    it.each(['grant.', 'grant.*'])('should filter by the action prefix %s', async (action) => {
      const stored = await server.database.query<{ id: string }>(
        `select id::text as id from audit_events where action like 'grant.%' order by seq desc`,
      );

      const { nodes } = await readAll(server, { action });

      expect(nodes.map((n) => n.id)).toEqual(stored.map((r) => r.id));
      expect(new Set(nodes.map((n) => n.action))).toEqual(
        new Set(['grant.created', 'grant.revoked']),
      );
    });

    it.each([
      ['an actor', (): Record<string, string> => ({ actorId: adminId })],
      ['a scope', (): Record<string, string> => ({ scope })],
    ])(
      'should page through %s and an action prefix newest first across actions, two at a time',
      async (_, extra) => {
        const filter: Record<string, string> = { ...extra(), action: 'grant.' };
        const stored = await server.database.query<{ id: string }>(
          `select e.id::text as id from audit_events e
         where e.action like 'grant.%'
           and ($1::uuid is null or e.actor_id = $1::uuid)
           and ($2::text is null or e.details -> 'scopes' ? $2::text)
         order by e.seq desc`,
          [filter.actorId ?? null, filter.scope ?? null],
        );

        const { nodes, pages } = await readAll(server, filter, 2);

        expect(new Set(nodes.map((n) => n.action))).toEqual(
          new Set(['grant.created', 'grant.revoked']),
        );
        expect(nodes.map((n) => n.id)).toEqual(stored.map((r) => r.id));
        expect(pages).toBe(Math.max(1, Math.ceil(stored.length / 2)));
      },
    );

    it('should filter by actorId', async () => {
      const stored = await server.database.query<{ id: string }>(
        'select id::text as id from audit_events where actor_id = $1 order by seq desc',
        [delegate.id],
      );

      const { nodes } = await readAll(server, { actorId: delegate.id });

      expect(stored).toHaveLength(3);
      expect(nodes.map((n) => n.id)).toEqual(stored.map((r) => r.id));
      expect(nodes.map((n) => n.subjectId)).toEqual([...delegated].reverse());
      for (const node of nodes) {
        expect(node).toMatchObject({ action: 'identity.created', actorId: delegate.id });
      }
    });

    it('should refuse an actorId that is not a uuid as BAD_USER_INPUT', async () => {
      const response = await search(server, { filter: { actorId: 'not-a-uuid' } });

      const error = expectError(response, 'BAD_USER_INPUT', '"not-a-uuid" is not a valid');
      expect(error.path).toEqual(['auditEvents']);
    });

    it('should filter by subjectId', async () => {
      const { nodes } = await readAll(server, { subjectId: revokedGrantId });

      expect(nodes.map((n) => n.action)).toEqual(['grant.revoked', 'grant.created']);
      expect(nodes.every((n) => n.subjectId === revokedGrantId)).toBe(true);
    });

    it('should combine filters', async () => {
      const { nodes } = await readAll(server, {
        action: 'identity.',
        actorId: delegate.id,
        subjectId: delegated[1],
      });

      expect(nodes.map((n) => n.subjectId)).toEqual([delegated[1]]);
    });

    it('should filter by a time range: at or after from, before to', async () => {
      const all = (await readAll(server)).nodes;
      const newest = Number(all[0]?.seq);
      const fromEvent = all.find((n) => Number(n.seq) === newest - 8);
      const toEvent = all.find((n) => Number(n.seq) === newest - 3);
      if (fromEvent === undefined || toEvent === undefined) throw new Error('Too few events.');
      const stored = await server.database.query<{ id: string }>(
        `select id::text as id from audit_events
         where at >= $1::timestamptz and at < $2::timestamptz order by seq desc`,
        [fromEvent.at, toEvent.at],
      );

      const { nodes } = await readAll(server, { from: fromEvent.at, to: toEvent.at });

      expect(nodes.map((n) => n.id)).toEqual(stored.map((r) => r.id));
      expect(nodes.map((n) => n.id)).toContain(fromEvent.id);
      expect(nodes.every((n) => Number(n.seq) < Number(toEvent.seq))).toBe(true);
      expect(nodes.every((n) => n.at >= fromEvent.at && n.at <= toEvent.at)).toBe(true);
    });

    it('should refuse a time range whose from is not before its to as BAD_USER_INPUT', async () => {
      const at = new Date().toISOString();

      const response = await search(server, { filter: { from: at, to: at } });

      expectError(response, 'BAD_USER_INPUT', '"from" must be before "to".');
    });

    it('should give details as a JSON object: a grant carries its reason and scope', async () => {
      const { nodes } = await readAll(server, { subjectId: revokedGrantId });
      const created = nodes.find((n) => n.action === 'grant.created');
      const revoked = nodes.find((n) => n.action === 'grant.revoked');

      expect(created?.details).toEqual(
        expect.objectContaining({
          reason: 'Audit search spec.',
          after: expect.objectContaining({ identityId: grantee.id, scope }),
        }),
      );
      expect(revoked?.details).toEqual(
        expect.objectContaining({ reason: 'Audit search spec is done.' }),
      );
    });

    it("should resolve the actor's name, and no actor for the bootstrap", async () => {
      const all = (await readAll(server)).nodes;
      const bootstrap = all.find((n) => n.action === 'identity.created' && n.actorId === null);
      const byDelegate = all.find((n) => n.actorId === delegate.id);
      const byAdmin = all.find((n) => n.actorId === server.adminId);

      expect(bootstrap).toMatchObject({ action: 'identity.created', actorId: null, actor: null });
      expect(byAdmin?.actor).toEqual({ id: server.adminId, name: adminName });
      expect(byDelegate?.actor?.id).toBe(delegate.id);
      expect(byDelegate?.actor?.name).toEqual(expect.any(String));
    });

    it('should chain every event to the one before it with 64-hex hashes', async () => {
      const all = (await readAll(server)).nodes;
      const bySeq = new Map(all.map((n) => [Number(n.seq), n]));

      expect(all.map((n) => Number(n.seq))).toEqual(all.map((_, i) => all.length - i));
      for (const node of all) {
        expect(node.hash).toMatch(HEX64);
        expect(node.prevHash).toMatch(HEX64);
        const previous = bySeq.get(Number(node.seq) - 1);
        expect(node.prevHash).toBe(previous === undefined ? '0'.repeat(64) : previous.hash);
      }
      expect(new Set(all.map((n) => n.hash)).size).toBe(all.length);
    });
  });

  describe('append-only storage', () => {
    it.each([
      ['an update', `update audit_events set details = '{"forged": true}'::jsonb where seq = 2`],
      ['an update of every row', `update audit_events set action = 'forged'`],
      ['a delete', 'delete from audit_events where seq = 2'],
      ['a delete of every row', 'delete from audit_events'],
      ['a truncate', 'truncate audit_events'],
    ])('should refuse %s in the database and leave the rows unchanged', async (_, statement) => {
      const before = await chain(server);

      await expect(server.database.query(statement)).rejects.toThrow(/append-only/);

      expect(await chain(server)).toEqual(before);
    });
  });

  describe('verifyAuditLog on an untouched log', () => {
    it('should be ok, having checked every entry up to the newest', async () => {
      const stored = await chain(server);
      const newest = stored.at(-1);

      const verification = await verify(server);

      expect(verification).toEqual({
        ok: true,
        checked: await countRows(server, 'audit_events'),
        firstBrokenId: null,
        reason: null,
        lastSeq: newest?.seq,
        lastHash: newest?.hash,
      });
      expect(verification.checked).toBe(stored.length);
      expect(await brokenInSql(server)).toEqual([]);
    });
  });

  describe('verifyAuditLog on a log growing past nine entries', () => {
    let fresh: TestServer;

    beforeAll(async () => {
      fresh = await startTestServer(engine);
    });

    afterAll(async () => {
      await fresh?.stop();
    });

    it('should stay ok once seq has two digits (ordered as numbers, not as text)', async () => {
      await createIdentity(fresh);
      const rows = await countRows(fresh, 'audit_events');

      expect(rows).toBeGreaterThan(10);
      expect(await brokenInSql(fresh)).toEqual([]);
      expect(await verify(fresh)).toMatchObject({ ok: true, checked: rows, lastSeq: String(rows) });
    });
  });

  describe('verifyAuditLog after tampering behind the API', () => {
    let fresh: TestServer;

    beforeEach(async () => {
      fresh = await startTestServer(engine);
      await seedChanges(fresh);
    });

    afterEach(async () => {
      await fresh?.stop();
    });

    it('should be ok before any tampering', async () => {
      expect(await verify(fresh)).toMatchObject({ ok: true, checked: (await chain(fresh)).length });
    });

    it('should find a middle entry whose details were edited, by its content no longer matching its hash', async () => {
      const edited = await rowAt(fresh, 4);

      await behindTheApi(fresh, [
        [
          `update audit_events set details = jsonb_set(details, '{reason}', '"Nothing to see."')
           where id = $1`,
          [edited.id],
        ],
      ]);

      expect(await verify(fresh)).toEqual({
        ok: false,
        checked: 3,
        firstBrokenId: edited.id,
        reason: expect.stringMatching(/content was changed/),
        lastSeq: null,
        lastHash: null,
      });
    });

    it('should find a middle entry whose actor was changed', async () => {
      const edited = await rowAt(fresh, 3);

      await behindTheApi(fresh, [
        ['update audit_events set actor_id = gen_random_uuid() where id = $1', [edited.id]],
      ]);

      expect(await verify(fresh)).toMatchObject({
        ok: false,
        checked: 2,
        firstBrokenId: edited.id,
        reason: expect.stringMatching(/content was changed/),
      });
    });

    it('should find a deleted middle entry, broken at the entry after it', async () => {
      const deleted = await rowAt(fresh, 4);
      const next = await rowAt(fresh, 5);

      await behindTheApi(fresh, [['delete from audit_events where id = $1', [deleted.id]]]);

      expect(await verify(fresh)).toEqual({
        ok: false,
        checked: 3,
        firstBrokenId: next.id,
        reason: expect.stringMatching(/missing/),
        lastSeq: null,
        lastHash: null,
      });
    });

    it('should find a forged entry appended with a wrong prev_hash and a made-up hash', async () => {
      const stored = await chain(fresh);

      await behindTheApi(fresh, [
        [
          `insert into audit_events (seq, action, actor_id, subject_id, details, prev_hash, hash)
           values ($1, 'grant.created', $2, 'forged', '{"reason": "Forged."}'::jsonb, $3, $4)`,
          [stored.length + 1, fresh.adminId, 'f'.repeat(64), 'a'.repeat(64)],
        ],
      ]);
      const [forged] = await fresh.database.query<{ id: string }>(
        `select id::text as id from audit_events where subject_id = 'forged'`,
      );

      expect(await verify(fresh)).toEqual({
        ok: false,
        checked: stored.length,
        firstBrokenId: forged?.id,
        reason: expect.stringMatching(/does not link/),
        lastSeq: null,
        lastHash: null,
      });
    });

    it('should find a forged entry appended with the right prev_hash and a made-up hash', async () => {
      const stored = await chain(fresh);

      await behindTheApi(fresh, [
        [
          `insert into audit_events (seq, action, actor_id, subject_id, details, prev_hash, hash)
           values ($1, 'grant.created', $2, 'forged', '{"reason": "Forged."}'::jsonb, $3, $4)`,
          [stored.length + 1, fresh.adminId, stored.at(-1)?.hash, 'a'.repeat(64)],
        ],
      ]);
      const [forged] = await fresh.database.query<{ id: string }>(
        `select id::text as id from audit_events where subject_id = 'forged'`,
      );

      expect(await verify(fresh)).toMatchObject({
        ok: false,
        checked: stored.length,
        firstBrokenId: forged?.id,
        reason: expect.stringMatching(/no seal/),
      });
    });

    it('should find a forged entry inserted before the first one (seq 0)', async () => {
      await behindTheApi(fresh, [
        [
          `insert into audit_events (seq, action, actor_id, subject_id, details, prev_hash, hash)
           values (0, 'grant.created', $1, 'forged', '{"reason": "Forged."}'::jsonb, $2, $3)`,
          [fresh.adminId, '0'.repeat(64), 'a'.repeat(64)],
        ],
      ]);
      const [forged] = await fresh.database.query<{ id: string }>(
        `select id::text as id from audit_events where subject_id = 'forged'`,
      );
      // The API lists the forged entry like any other.
      expect((await readAll(fresh, { subjectId: 'forged' })).nodes.map((n) => n.id)).toEqual([
        forged?.id,
      ]);

      expect(await verify(fresh)).toMatchObject({ ok: false, firstBrokenId: forged?.id });
    });

    it('should find an edited entry whose own hash was recomputed, by its seal', async () => {
      const edited = await rowAt(fresh, 4);
      const forgedDetails = `jsonb_set(details, '{reason}', '"Nothing to see."')`;

      await behindTheApi(fresh, [
        [
          `update audit_events set details = ${forgedDetails},
             hash = keyholder_audit_hash(seq, prev_hash, at, action, actor_id, subject_id, ${forgedDetails})
           where id = $1`,
          [edited.id],
        ],
      ]);
      const [check] = await fresh.database.query<{ matches: boolean }>(
        `select hash = keyholder_audit_hash(seq, prev_hash, at, action, actor_id, subject_id, details)
           and hash <> $2 as matches
         from audit_events where id = $1`,
        [edited.id, edited.hash],
      );
      expect(check?.matches).toBe(true);

      expect(await verify(fresh)).toEqual({
        ok: false,
        checked: 3,
        firstBrokenId: edited.id,
        reason: expect.stringMatching(/re-hashed without the key/),
        lastSeq: null,
        lastHash: null,
      });
    });

    it('should find a chain rewritten and re-hashed with the database function, by the seals', async () => {
      const recorded = await verify(fresh);
      const stored = await chain(fresh);
      const rewrites: Statement[] = [
        [
          `update audit_events set details = jsonb_set(details, '{reason}', '"Nothing to see."')
           where seq = 4`,
          [],
        ],
      ];
      for (let seq = 4; seq <= stored.length; seq++) {
        rewrites.push(
          [
            `update audit_events set prev_hash = (select hash from audit_events where seq = $1 - 1)
             where seq = $1`,
            [seq],
          ],
          [
            `update audit_events
             set hash = keyholder_audit_hash(seq, prev_hash, at, action, actor_id, subject_id, details)
             where seq = $1`,
            [seq],
          ],
        );
      }

      await behindTheApi(fresh, rewrites);
      const after = await verify(fresh);

      expect(recorded.ok).toBe(true);
      expect(after).toMatchObject({
        ok: false,
        checked: 3,
        firstBrokenId: stored[3]?.id,
        reason: expect.stringMatching(/Keyholder's seal|rewritten/),
      });
    });

    it('should find deleted newest entries, which this instance verified before, as a missing tail', async () => {
      const recorded = await verify(fresh);

      await behindTheApi(fresh, [
        ['delete from audit_events where seq > $1', [Number(recorded.lastSeq) - 2]],
      ]);
      const after = await verify(fresh);

      expect(after).toMatchObject({
        ok: false,
        checked: recorded.checked - 2,
        reason: expect.stringMatching(/no longer in the audit log/),
      });
    });
  });

  describe('order under concurrency', () => {
    it('should chain 30 concurrent changes in one strict order, seq 1..N without gaps', async () => {
      const names = Array.from({ length: 30 }, () => unique('concurrent'));

      const created = await Promise.all(names.map((name) => createIdentity(server, { name })));

      const seqs = await server.database.query<{ seq: string }>(
        'select a.seq::text as seq from audit_events a order by a.seq',
      );
      expect(seqs.map((r) => Number(r.seq))).toEqual(seqs.map((_, i) => i + 1));
      const events = await server.database.query<{ subject_id: string }>(
        `select subject_id from audit_events where action = 'identity.created'
           and details->'after'->>'name' like 'concurrent-%'`,
      );
      expect(new Set(events.map((e) => e.subject_id))).toEqual(new Set(created.map((c) => c.id)));
      expect(await brokenInSql(server)).toEqual([]);
      expect(await verify(server)).toMatchObject({ ok: true, checked: seqs.length });
    });

    it("should keep each transaction's events adjacent when scopes are defined concurrently", async () => {
      const names = await Promise.all(Array.from({ length: 10 }, () => defineScope(server)));

      const rows = await server.database.query<{ seq: string; action: string; subject: string }>(
        `select a.seq::text as seq, a.action,
                coalesce(g.scope, a.subject_id) as subject
         from audit_events a left join grants g on a.action = 'grant.created' and g.id::text = a.subject_id
         where a.action in ('scope.defined', 'grant.created') order by a.seq`,
      );
      for (const name of names) {
        const defined = rows.find((r) => r.action === 'scope.defined' && r.subject === name);
        const definerGrant = rows.find((r) => r.action === 'grant.created' && r.subject === name);
        expect(Number(definerGrant?.seq)).toBe(Number(defined?.seq) + 1);
      }
      expect(await brokenInSql(server)).toEqual([]);
      expect((await verify(server)).ok).toBe(true);
    });

    it('should record one event when the same name is created concurrently and the rest conflict', async () => {
      const name = unique('contested');
      const before = await countRows(server, 'audit_events');

      const responses = await Promise.all(
        Array.from({ length: 8 }, () =>
          asAdmin(
            'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
            {
              input: { name, kind: 'SERVICE' },
            },
          ),
        ),
      );

      const codes = responses.map((r) => r.body.errors?.[0]?.extensions?.code ?? 'OK');
      expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
      expect(codes.filter((c) => c === 'CONFLICT')).toHaveLength(7);
      expect(await countRows(server, 'audit_events')).toBe(before + 1);
      expect(
        await countRows(server, 'audit_events', `details->'after'->>'name' = $1`, [name]),
      ).toBe(1);
      expect(await brokenInSql(server)).toEqual([]);
      expect((await verify(server)).ok).toBe(true);
    });
  });

  describe('atomicity of a change and its event', () => {
    it('should add no event for a change refused as CONFLICT', async () => {
      const existing = await createIdentity(server);
      const before = await snapshot(server);
      const beforeChain = await chain(server);

      const response = await asAdmin(
        'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
        { input: { name: existing.name, kind: 'SERVICE' } },
      );

      expectError(response, 'CONFLICT', `An identity named "${existing.name}" already exists.`);
      expect(await snapshot(server)).toEqual(before);
      expect(await chain(server)).toEqual(beforeChain);
    });

    it('should make no change when its audit event cannot be written', async () => {
      const name = unique('unrecordable');
      const before = await snapshot(server);
      await server.database.query(
        `alter table audit_events add constraint kh_spec_refuse_event
         check (details->'after'->>'name' is distinct from '${name}') not valid`,
      );
      let response: GqlResponse;
      try {
        response = await asAdmin(
          'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
          { input: { name, kind: 'SERVICE' } },
        );
      } finally {
        await server.database.query(
          'alter table audit_events drop constraint kh_spec_refuse_event',
        );
      }

      expect(response.body.errors?.length).toBeGreaterThan(0);
      expect(response.body.data?.createIdentity ?? null).toBeNull();
      expect(await countRows(server, 'identities', 'name = $1', [name])).toBe(0);
      expect(await snapshot(server)).toEqual(before);
    });
  });
});

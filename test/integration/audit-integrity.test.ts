import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, prefixOf } from '../../src/modules/keys/api-key-secret.js';
import {
  createScratchDatabase,
  createScratchDataDir,
  type Engine,
  engines,
  type ScratchDatabase,
  type ScratchDataDir,
} from '../fixtures/engines.js';
import { expectEventually } from '../fixtures/eventually.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity, defineScope, grant, identityWithGrants } from '../fixtures/seed.js';
import {
  type ServerOverrides,
  startTestServer,
  TEST_AUDIT_KEYS,
  type TestServer,
} from '../fixtures/test-server.js';

interface Verification {
  ok: boolean;
  checked: number;
  walked: number;
  firstBrokenId: string | null;
  reason: string | null;
  lastSeq: string | null;
  problem: string | null;
  mode: string;
  verifiedFrom: string;
  checkpoint: { seq: string; hash: string; keyId: string } | null;
  missingEvents: number;
  missingFromSeq: string | null;
  missingToSeq: string | null;
  unrecorded: { table: string; id: string }[];
}

const VERIFY = `query($checkpoints: [String!]) {
  verifyAuditLog(checkpoints: $checkpoints) {
    ok checked walked firstBrokenId reason lastSeq problem mode verifiedFrom
    checkpoint { seq hash keyId } missingEvents missingFromSeq missingToSeq
    unrecorded { table id }
  }
}`;

async function verify(server: TestServer, checkpoints?: string[]): Promise<Verification> {
  return dataOf(
    await gql<{ verifyAuditLog: Verification }>(server.url, server.adminKey, VERIFY, {
      ...(checkpoints === undefined ? {} : { checkpoints }),
    }),
  ).verifyAuditLog;
}

/** Runs `statements` with the database owner's rights: the log's own triggers switched off. */
async function behindTheApi(
  server: TestServer,
  statements: readonly (readonly [string, (readonly unknown[])?])[],
): Promise<void> {
  const tables = ['audit_events', 'audit_event_scopes', 'audit_seals', 'audit_checkpoints'];
  for (const table of tables)
    await server.database.query(`alter table ${table} disable trigger user`);
  try {
    for (const [text, params] of statements) await server.database.query(text, params ?? []);
  } finally {
    for (const table of tables)
      await server.database.query(`alter table ${table} enable trigger user`);
  }
}

async function seqOf(server: TestServer, where: string, params: unknown[] = []): Promise<number> {
  const [row] = await server.database.query<{ seq: string }>(
    `select e.seq::text as seq from audit_events e where ${where} order by e.seq desc limit 1`,
    params,
  );
  return Number(row?.seq);
}

async function headSeq(server: TestServer): Promise<number> {
  return seqOf(server, 'true');
}

async function idAt(server: TestServer, seq: number): Promise<string> {
  const [row] = await server.database.query<{ id: string }>(
    'select id::text as id from audit_events where seq = $1',
    [seq],
  );
  return row?.id as string;
}

/** A few changes through the API: identities, a scope, a grant. */
async function seedChanges(server: TestServer): Promise<void> {
  const scope = await defineScope(server);
  const someone = await createIdentity(server);
  await grant(server, someone.id, { scope, reason: 'Seeded for tampering.' });
  await createIdentity(server);
  await createIdentity(server);
}

const CHECK = `query($identityId: ID!, $scope: String!) {
  check(identityId: $identityId, scope: $scope) { allowed }
}`;

describe.each(engines())('audit integrity on %s', (engine: Engine) => {
  describe('tampering behind the API', () => {
    let server: TestServer;

    beforeEach(async () => {
      server = await startTestServer(engine);
      await seedChanges(server);
    });

    afterEach(async () => {
      await server?.stop();
    });

    it('should verify an untouched log, every entry sealed by Keyholder', async () => {
      const verification = await verify(server);

      expect(verification).toMatchObject({
        ok: true,
        checked: await headSeq(server),
        problem: null,
        unrecorded: [],
      });
      const [unsealed] = await server.database.query<{ n: number }>(
        `select count(*)::int as n from audit_events e
         where not exists (select 1 from audit_seals s where s.seq = e.seq)`,
      );
      expect(unsealed?.n).toBe(0);
    });

    it('should find an entry edited in place', async () => {
      const id = await idAt(server, 5);

      await behindTheApi(server, [
        [
          `update audit_events set details = jsonb_set(details, '{reason}', '"Nothing to see."') where seq = 5`,
        ],
      ]);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: 4,
        firstBrokenId: id,
        problem: 'EDITED',
      });
    });

    it('should find an entry deleted in the middle, naming the missing seq', async () => {
      await behindTheApi(server, [['delete from audit_events where seq = 6']]);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: 5,
        firstBrokenId: await idAt(server, 7),
        problem: 'MISSING',
        missingEvents: 1,
        missingFromSeq: '6',
        missingToSeq: '6',
      });
    });

    it('should find a truncated head, naming the missing seqs', async () => {
      await behindTheApi(server, [['delete from audit_events where seq <= 3']]);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: 0,
        problem: 'TRUNCATED_HEAD',
        missingEvents: 3,
        missingFromSeq: '1',
        missingToSeq: '3',
      });
    });

    it('should find an event inserted through the normal chain trigger, which carries no seal', async () => {
      await server.database.query(
        `insert into audit_events (action, actor_id, subject_id, details)
         values ('grant.revoked', $1, 'forged', '{"reason": "Forged."}'::jsonb)`,
        [server.adminId],
      );
      const forged = await headSeq(server);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: forged - 1,
        firstBrokenId: await idAt(server, forged),
        problem: 'UNSEALED',
        reason: expect.stringMatching(/no seal/),
      });
    });

    it('should find a chain rewritten and re-hashed after keyholder_audit_hash() was replaced', async () => {
      const head = await headSeq(server);
      const statements: [string, unknown[]?][] = [
        // The database owner's own hash: verification never calls it.
        [
          `create or replace function keyholder_audit_hash(
             p_seq bigint, p_prev_hash text, p_at timestamptz, p_action text, p_actor uuid,
             p_subject text, p_details jsonb
           ) returns text language sql immutable as $f$
             select encode(sha256(convert_to(p_seq::text || p_prev_hash || p_details::text, 'UTF8')), 'hex')
           $f$`,
        ],
        [
          `update audit_events set details = jsonb_set(details, '{reason}', '"Nothing to see."') where seq = 4`,
        ],
      ];
      for (let seq = 1; seq <= head; seq++) {
        statements.push(
          [
            `update audit_events set prev_hash = coalesce((select hash from audit_events where seq = $1 - 1), repeat('0', 64)) where seq = $1`,
            [seq],
          ],
          [
            `update audit_events set hash = keyholder_audit_hash(seq, prev_hash, at, action, actor_id, subject_id, details) where seq = $1`,
            [seq],
          ],
        );
      }

      await behindTheApi(server, statements);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: 0,
        firstBrokenId: await idAt(server, 1),
        problem: 'EDITED',
      });
    });

    it('should refuse to write a change once keyholder_audit_hash() was replaced', async () => {
      await server.database.query(
        `create or replace function keyholder_audit_hash(
           p_seq bigint, p_prev_hash text, p_at timestamptz, p_action text, p_actor uuid,
           p_subject text, p_details jsonb
         ) returns text language sql immutable as $f$ select repeat('a', 64) $f$`,
      );
      const before = await headSeq(server);

      const response = await gql(
        server.url,
        server.adminKey,
        'mutation { createIdentity(input: { name: "after-the-swap", kind: SERVICE }) { id } }',
      );

      expectError(response, 'INTERNAL_SERVER_ERROR');
      expect(await headSeq(server)).toBe(before);
      const [made] = await server.database.query<{ n: number }>(
        `select count(*)::int as n from identities where name = 'after-the-swap'`,
      );
      expect(made?.n).toBe(0);
    });

    it('should find a deleted scope index row (scope searches would miss the event)', async () => {
      const seq = await seqOf(server, `action = 'grant.created' and details ? 'scopes'`);
      await behindTheApi(server, [['delete from audit_event_scopes where seq = $1', [seq]]]);

      expect(await verify(server)).toMatchObject({
        ok: false,
        checked: seq - 1,
        firstBrokenId: await idAt(server, seq),
        problem: 'SCOPE_INDEX',
      });
    });

    it('should find a forged scope index row (scope searches would find the event under it)', async () => {
      const seq = await seqOf(server, `action = 'grant.created' and details ? 'scopes'`);
      await behindTheApi(server, [
        [
          `insert into audit_event_scopes (scope, seq, action) values ('payroll:read', $1, 'grant.created')`,
          [seq],
        ],
      ]);

      const verification = await verify(server);

      expect(verification).toMatchObject({
        ok: false,
        checked: seq - 1,
        firstBrokenId: await idAt(server, seq),
        problem: 'SCOPE_INDEX',
      });
      expect(verification.reason).toContain('"payroll:read", which it does not name');
    });

    it('should find an index row filed under another action', async () => {
      const [row] = await server.database.query<{ seq: string; scope: string }>(
        `select seq::text as seq, scope from audit_event_scopes
         where action = 'grant.created' order by seq desc limit 1`,
      );
      const seq = Number(row?.seq);
      // The primary key is (scope, seq): the real row gives way to the misfiled one.
      await behindTheApi(server, [
        ['delete from audit_event_scopes where scope = $1 and seq = $2', [row?.scope, seq]],
        [
          `insert into audit_event_scopes (scope, seq, action) values ($1, $2, 'access.denied')`,
          [row?.scope, seq],
        ],
      ]);

      expect(await verify(server)).toMatchObject({
        ok: false,
        firstBrokenId: await idAt(server, seq),
        problem: 'SCOPE_INDEX',
      });
    });

    it('should find an index row below the first event, where no event can justify it', async () => {
      await behindTheApi(server, [
        [
          `insert into audit_event_scopes (scope, seq, action) values ('payroll:read', 0, 'grant.created')`,
        ],
      ]);

      const verification = await verify(server);

      expect(verification).toMatchObject({ ok: false, problem: 'SCOPE_INDEX' });
      expect(verification.reason).toContain('names seq 0, which is not in the audit log');
    });

    it('should report a grant row inserted with no event, which authorizes nothing', async () => {
      const scope = await defineScope(server);
      const puppet = await identityWithGrants(server, []);
      const [row] = await server.database.query<{ id: string }>(
        `insert into grants (identity_id, scope, reason, grantable)
         values ($1, $2, 'Inserted behind the API.', true) returning id::text as id`,
        [puppet.id, scope],
      );

      const checked = dataOf(
        await gql<{ check: { allowed: boolean } }>(server.url, server.adminKey, CHECK, {
          identityId: puppet.id,
          scope,
        }),
      ).check;
      const asPuppet = await gql(server.url, puppet.key, `{ me { grants { id } } }`);
      const verification = await verify(server);

      expect(checked.allowed).toBe(false);
      expect(dataOf(asPuppet)).toEqual({ me: { grants: [] } });
      expect(verification).toMatchObject({
        ok: false,
        problem: 'UNRECORDED_ROW',
        unrecorded: [{ table: 'grants', id: row?.id }],
      });
    });

    it('should refuse an API key row inserted with no event', async () => {
      const someone = await createIdentity(server);
      const secret = `kh_${randomBytes(32).toString('base64url')}`;
      await server.database.query(
        `insert into api_keys (identity_id, name, prefix, secret_hash) values ($1, 'forged', $2, $3)`,
        [someone.id, prefixOf(secret), hashSecret(secret)],
      );

      expectUnauthenticated(await gql(server.url, secret, '{ me { id } }'), 'not recognised');
      expect((await verify(server)).unrecorded).toEqual([
        { table: 'api_keys', id: expect.any(String) },
      ]);
    });

    it('should treat an identity row inserted with no event as disabled, whatever keys it is given', async () => {
      const [row] = await server.database.query<{ id: string }>(
        `insert into identities (name, kind) values ('inserted-behind-the-api', 'SERVICE')
         returning id::text as id`,
      );
      const { createApiKey } = dataOf(
        await gql<{ createApiKey: { secret: string } }>(
          server.url,
          server.adminKey,
          `mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "k" }) { secret } }`,
          { id: row?.id },
        ),
      );

      expectUnauthenticated(
        await gql(server.url, createApiKey.secret, '{ me { id } }'),
        'disabled',
      );
      expect((await verify(server)).unrecorded).toEqual([{ table: 'identities', id: row?.id }]);
    });

    it('should give nothing through a group membership inserted with no event', async () => {
      const scope = await defineScope(server);
      const { createGroup } = dataOf(
        await gql<{ createGroup: { id: string } }>(
          server.url,
          server.adminKey,
          'mutation($input: CreateGroupInput!) { createGroup(input: $input) { id } }',
          { input: { name: `team-${randomBytes(4).toString('hex')}` } },
        ),
      );
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($input: GrantInput!) { grant(input: $input) { id } }',
          { input: { groupId: createGroup.id, scope, reason: 'The team holds it.' } },
        ),
      );
      const outsider = await createIdentity(server);
      const [row] = await server.database.query<{ id: string }>(
        `insert into group_members (group_id, member_identity_id, reason)
         values ($1, $2, 'Inserted behind the API.') returning id::text as id`,
        [createGroup.id, outsider.id],
      );

      const checked = dataOf(
        await gql<{ check: { allowed: boolean } }>(server.url, server.adminKey, CHECK, {
          identityId: outsider.id,
          scope,
        }),
      ).check;

      expect(checked.allowed).toBe(false);
      expect((await verify(server)).unrecorded).toEqual([{ table: 'group_members', id: row?.id }]);
    });

    it('should find, in a full verification, a grant row pointed at another grant’s event', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const borrowed = await seqOf(server, `action = 'grant.created' and subject_id = $1`, [
        holder.grants[0]?.id,
      ]);
      const other = await createIdentity(server);
      await server.database.query(
        `insert into grants (identity_id, scope, reason, grantable, audit_seq)
         values ($1, $2, 'Forged with a borrowed event.', false, $3)`,
        [other.id, scope, borrowed],
      );

      const started = dataOf(
        await gql<{ startAuditVerification: { id: string; status: string } }>(
          server.url,
          server.adminKey,
          'mutation { startAuditVerification { id status } }',
        ),
      ).startAuditVerification;
      const run = await expectEventually(
        async () =>
          dataOf(
            await gql<{
              auditVerificationRun: {
                id: string;
                status: string;
                checked: number;
                total: number;
                result: Verification | null;
              };
            }>(
              server.url,
              server.adminKey,
              '{ auditVerificationRun { id status checked total result { ok problem mode unrecorded { table id } } } }',
            ),
          ).auditVerificationRun,
        (r) => r.status !== 'RUNNING',
        'the full verification',
      );

      expect(run).toMatchObject({
        id: started.id,
        status: 'DONE',
        result: { ok: false, problem: 'UNRECORDED_ROW', mode: 'FULL' },
      });
      expect(run.checked).toBe(run.total);
      expect(run.result?.unrecorded.map((r) => r.table)).toEqual(['grants']);
    });
  });

  describe('signed checkpoints', () => {
    let server: TestServer;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'keyholder-checkpoints-'));
      server = await startTestServer(engine, {
        audit: { checkpointEvents: 5, checkpointSeconds: 3600, checkpointDir: dir },
      });
      await seedChanges(server);
    });

    afterAll(async () => {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    async function files(): Promise<string[]> {
      return (await readdir(dir)).sort();
    }

    it('should sign a checkpoint once enough events follow, into the database and the directory', async () => {
      const names = await expectEventually(files, (n) => n.length > 0, 'a checkpoint file');
      const file = JSON.parse(await readFile(join(dir, names[0] as string), 'utf8')) as {
        keyId: string;
        payload: string;
        signature: string;
      };
      const payload = JSON.parse(file.payload) as { seq: number; hash: string; count: number };
      // The file is written first, then the row: wait for both.
      const [stored] = await expectEventually(
        () =>
          server.database.query<{ hash: string; signature: string }>(
            'select hash, signature from audit_checkpoints where seq = $1',
            [payload.seq],
          ),
        (rows) => rows.length === 1,
        'the stored checkpoint',
      );
      const [event] = await server.database.query<{ hash: string }>(
        'select hash from audit_events where seq = $1',
        [payload.seq],
      );

      expect(payload.count).toBe(payload.seq);
      expect(stored).toEqual({ hash: payload.hash, signature: file.signature });
      expect(event?.hash).toBe(payload.hash);
    });

    it('should publish the public keys that verify the checkpoint signatures', async () => {
      const [name] = await files();
      const file = JSON.parse(await readFile(join(dir, name as string), 'utf8')) as {
        keyId: string;
        payload: string;
        signature: string;
      };
      const response = await fetch(`${server.url}/.well-known/keyholder-audit-keys`);
      const jwks = (await response.json()) as { keys: { kid: string; x: string; crv: string }[] };
      const jwk = jwks.keys.find((k) => k.kid === file.keyId);
      const { createPublicKey, verify: verifySignature } = await import('node:crypto');
      const key = createPublicKey({ key: { ...jwk, kty: 'OKP' }, format: 'jwk' });

      expect(response.status).toBe(200);
      expect(
        verifySignature(
          null,
          Buffer.from(file.payload),
          key,
          Buffer.from(file.signature, 'base64url'),
        ),
      ).toBe(true);
    });

    it('should verify incrementally from the newest checkpoint', async () => {
      const verification = await verify(server);

      expect(verification.ok).toBe(true);
      expect(verification.checkpoint).not.toBeNull();
      expect(verification.walked).toBeLessThanOrEqual(verification.checked);
      expect(verification.checked).toBe(await headSeq(server));
    });

    it('should refuse a checkpoint it did not sign with BAD_USER_INPUT', async () => {
      const [name] = await files();
      const file = JSON.parse(await readFile(join(dir, name as string), 'utf8')) as {
        keyId: string;
        payload: string;
        signature: string;
      };
      const forged = JSON.stringify({
        ...file,
        payload: file.payload.replace(/"seq":\d+/, '"seq":999999'),
      });

      const response = await gql(server.url, server.adminKey, VERIFY, { checkpoints: [forged] });

      expectError(response, 'BAD_USER_INPUT', 'does not verify');
    });
  });

  describe('a deleted tail, found against the checkpoints held outside', () => {
    let scratchDb: ScratchDatabase | undefined;
    let scratchDir: ScratchDataDir | undefined;
    let dir: string;
    const place = (): ServerOverrides =>
      engine === 'postgres'
        ? { databaseUrl: scratchDb?.url as string }
        : { dataDir: scratchDir?.path as string };

    beforeEach(async () => {
      if (engine === 'postgres') scratchDb = await createScratchDatabase();
      else scratchDir = await createScratchDataDir();
      dir = await mkdtemp(join(tmpdir(), 'keyholder-checkpoints-'));
    });

    afterEach(async () => {
      await scratchDb?.drop();
      await scratchDir?.remove();
      await rm(dir, { recursive: true, force: true });
    });

    it('should report the missing tail, and what is missing, when the newest events and checkpoints are deleted', async () => {
      const first = await startTestServer(engine, {
        ...place(),
        audit: { checkpointEvents: 3, checkpointSeconds: 3600, checkpointDir: dir },
      });
      await seedChanges(first);
      const head = await headSeq(first);
      await expectEventually(
        async () => {
          const [row] = await first.database.query<{ seq: string | null }>(
            'select max(seq)::text as seq from audit_checkpoints',
          );
          return Number(row?.seq ?? 0);
        },
        (seq) => seq > head - 3,
        'a checkpoint near the head',
      );
      await first.stop();
      const held = await Promise.all(
        (await readdir(dir)).map((name) => readFile(join(dir, name), 'utf8')),
      );
      const newest = Math.max(
        ...held.map((text) => (JSON.parse(JSON.parse(text).payload) as { seq: number }).seq),
      );
      // A new instance, with nothing in memory that vouches for the events about to go.
      const second = await startTestServer(engine, {
        ...place(),
        audit: { checkpointEvents: 1_000_000, checkpointSeconds: 86_400 },
      });
      const keep = newest - 3;
      try {
        await behindTheApi(second, [
          ['delete from audit_events where seq > $1', [keep]],
          ['delete from audit_event_scopes where seq > $1', [keep]],
          ['delete from audit_seals where seq > $1', [keep]],
          ['delete from audit_checkpoints where seq > $1', [keep]],
        ]);

        const fromTheDatabaseAlone = await verify(second);
        const againstTheFiles = await verify(second, held);

        // The database no longer holds anything that shows the loss: the files outside do.
        expect(fromTheDatabaseAlone.ok).toBe(true);
        expect(againstTheFiles).toMatchObject({
          ok: false,
          problem: 'MISSING_TAIL',
          checked: keep,
          missingFromSeq: String(keep + 1),
          missingToSeq: String(newest),
          missingEvents: newest - keep,
        });
      } finally {
        await second.stop();
      }
    });
  });

  describe('key rotation', () => {
    let scratchDb: ScratchDatabase | undefined;
    let scratchDir: ScratchDataDir | undefined;
    const place = (): ServerOverrides =>
      engine === 'postgres'
        ? { databaseUrl: scratchDb?.url as string }
        : { dataDir: scratchDir?.path as string };

    beforeEach(async () => {
      if (engine === 'postgres') scratchDb = await createScratchDatabase();
      else scratchDir = await createScratchDataDir();
    });

    afterEach(async () => {
      await scratchDb?.drop();
      await scratchDir?.remove();
    });

    it('should verify a log sealed with a retired key that is still configured, and not without it', async () => {
      const first = await startTestServer(engine, place());
      await seedChanges(first);
      await first.stop();
      const newKeys = {
        hmacKey: randomBytes(32).toString('base64'),
        signingKey: randomBytes(32).toString('base64'),
      };

      const rotated = await startTestServer(engine, {
        ...place(),
        audit: {
          ...newKeys,
          hmacPreviousKeys: [TEST_AUDIT_KEYS.hmacKey],
          signingPreviousKeys: [TEST_AUDIT_KEYS.signingKey],
        },
      });
      await createIdentity(rotated);
      const withRetired = await verify(rotated);
      const jwks = (await (
        await fetch(`${rotated.url}/.well-known/keyholder-audit-keys`)
      ).json()) as { keys: unknown[] };
      await rotated.stop();
      const forgetful = await startTestServer(engine, { ...place(), audit: newKeys });
      const withoutRetired = await verify(forgetful);
      await forgetful.stop();

      expect(withRetired).toMatchObject({ ok: true });
      expect(jwks.keys).toHaveLength(2);
      expect(withoutRetired).toMatchObject({
        ok: false,
        checked: 0,
        problem: 'UNSEALED',
        reason: expect.stringMatching(/not configured/),
      });
    });
  });
});

describe('audit keys at start', () => {
  it('should refuse to start in production without audit keys', async () => {
    await expect(
      startTestServer('pglite', {
        production: true,
        audit: { hmacKey: undefined, signingKey: undefined },
      }),
    ).rejects.toThrow(/AUDIT_HMAC_KEY and AUDIT_SIGNING_KEY are required in production/);
  });

  it('should refuse a sealing key shorter than 32 bytes', async () => {
    await expect(
      startTestServer('pglite', {
        audit: {
          hmacKey: Buffer.alloc(8).toString('base64'),
          signingKey: TEST_AUDIT_KEYS.signingKey,
        },
      }),
    ).rejects.toThrow(/at least 32 random bytes/);
  });

  it('should keep generated keys in DATA_DIR outside production, readable by the owner only', async () => {
    const dir = await createScratchDataDir();
    try {
      const server = await startTestServer('pglite', {
        dataDir: dir.path,
        audit: { hmacKey: undefined, signingKey: undefined },
      });
      await server.stop();
      const { stat } = await import('node:fs/promises');
      const info = await stat(join(dir.path, 'audit-keys.json'));

      expect(info.mode & 0o777).toBe(0o600);
    } finally {
      await dir.remove();
    }
  });
});

// PostgreSQL only: PGlite has one role, so there is no second role to run as.
describe.skipIf(!engines().includes('postgres'))(
  'two roles on PostgreSQL: an owner that migrates, a runtime role that cannot touch the triggers',
  () => {
    let scratch: ScratchDatabase;
    let server: TestServer | undefined;
    const role = `kh_runtime_${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      scratch = await createScratchDatabase();
      const owner = await startTestServer('postgres', { databaseUrl: scratch.url });
      await owner.database.query(`create role ${role} login`);
      for (const statement of [
        `grant select, insert, update, delete on all tables in schema public to ${role}`,
        `grant usage, select on all sequences in schema public to ${role}`,
        `grant usage on schema drizzle to ${role}`,
        `grant select on all tables in schema drizzle to ${role}`,
      ]) {
        await owner.database.query(statement);
      }
      await owner.stop();
      const runtime = new URL(scratch.url);
      runtime.username = role;
      server = await startTestServer('postgres', { databaseUrl: runtime.href });
    });

    afterAll(async () => {
      await server?.stop();
      await scratch?.drop();
      const { default: postgres } = await import('postgres');
      const sql = postgres(process.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop role if exists ${role}`);
      await sql.end({ timeout: 5 });
    });

    it('should start and serve as the runtime role once the owner has migrated', async () => {
      const runtime = server as TestServer;
      await seedChanges(runtime);

      expect(await verify(runtime)).toMatchObject({ ok: true });
    });

    it('should refuse the runtime role what would hide tampering', async () => {
      const runtime = server as TestServer;
      for (const statement of [
        'alter table audit_events disable trigger user',
        'update audit_events set details = details where seq = 1',
        'delete from audit_events where seq = 1',
        'truncate audit_seals',
        `create or replace function keyholder_audit_hash(
           p_seq bigint, p_prev_hash text, p_at timestamptz, p_action text, p_actor uuid,
           p_subject text, p_details jsonb
         ) returns text language sql immutable as $f$ select '' $f$`,
      ]) {
        await expect(runtime.database.query(statement), statement).rejects.toThrow(
          /owner|append-only|permission denied/,
        );
      }
    });
  },
);

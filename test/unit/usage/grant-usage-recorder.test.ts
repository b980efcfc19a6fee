import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/client.js';
import { GrantUsageRecorder } from '../../../src/modules/usage/grant-usage-recorder.js';
import { GrantUseRecord } from '../../../src/modules/usage/grant-use-record.js';

interface Written {
  g: string;
  t: string;
  n: number;
}

/** A database whose `query` records each batch written, failing while `failing` is set. */
function fakeDatabase() {
  const batches: Written[][] = [];
  const state = { failing: false };
  const database = {
    query: async (_text: string, params?: readonly unknown[]) => {
      if (state.failing) throw new Error('connection refused');
      batches.push(JSON.parse(String(params?.[0])) as Written[]);
      return [];
    },
  } as unknown as Database;
  return { database, batches, state };
}

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

describe('GrantUseRecord', () => {
  it('should report each grant once per take, however many decisions it allowed, and pass every decision on', () => {
    const seen: string[] = [];
    const record = new GrantUseRecord({
      allowed: (coordinate) => seen.push(`allowed ${coordinate}`),
      denied: (coordinate) => seen.push(`denied ${coordinate}`),
    });
    const grant = {
      id: A,
      identityId: B,
      scope: 'x:read',
      resource: null,
      expiresAt: null,
      grantable: false,
      condition: null,
    };

    record.allowed('Query.a', [grant]);
    record.allowed('Query.b', [grant, { ...grant, id: B }]);
    record.denied('Query.c', new Error('no') as never);

    expect(record.take().sort()).toEqual([A, B]);
    expect(record.take()).toEqual([]);
    expect(seen).toEqual(['allowed Query.a', 'allowed Query.b', 'denied Query.c']);
  });
});

describe('GrantUsageRecorder', () => {
  const recorders: GrantUsageRecorder[] = [];
  afterEach(async () => {
    for (const r of recorders.splice(0)) await r.close();
  });

  it('should coalesce uses per grant between flushes and write them in one batch, sorted by grant id', async () => {
    const { database, batches } = fakeDatabase();
    const recorder = new GrantUsageRecorder(database, () => {}, { flushMs: 60_000 });
    recorders.push(recorder);

    recorder.record([B, A], 1000);
    recorder.record([B], 3000);
    recorder.record([B], 2000);
    expect(recorder.pending).toBe(2);
    await recorder.flush();

    expect(batches).toEqual([
      [
        { g: A, t: new Date(1000).toISOString(), n: 1 },
        { g: B, t: new Date(3000).toISOString(), n: 3 },
      ],
    ]);
    expect(recorder.pending).toBe(0);
  });

  it('should keep the counts of a failed write, log once, and write them with later uses when it recovers', async () => {
    const { database, batches, state } = fakeDatabase();
    const logs: string[] = [];
    const recorder = new GrantUsageRecorder(database, (m) => logs.push(m), { flushMs: 60_000 });
    recorders.push(recorder);

    state.failing = true;
    recorder.record([A], 1000);
    await expect(recorder.flush()).rejects.toThrow('connection refused');
    recorder.record([A], 2000);
    await expect(recorder.flush()).rejects.toThrow('connection refused');
    state.failing = false;
    await recorder.flush();

    expect(batches).toEqual([[{ g: A, t: new Date(2000).toISOString(), n: 2 }]]);
    expect(logs).toHaveLength(2);
    expect(logs[0]).toContain('Could not record the use of 1 grants');
    expect(logs[1]).toContain('recovered');
  });

  it('should write in batches of batchSize', async () => {
    const { database, batches } = fakeDatabase();
    const recorder = new GrantUsageRecorder(database, () => {}, { flushMs: 60_000, batchSize: 1 });
    recorders.push(recorder);

    recorder.record([A, B]);
    await recorder.flush();

    expect(batches.map((b) => b.map((e) => e.g))).toEqual([[A], [B]]);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';
import type { Database } from '../../../src/db/client.js';
import { GrantReaper } from '../../../src/modules/usage/grant-reaper.js';
import {
  describeWindow,
  MAX_UNUSED_SECONDS,
  requireUnusedWindow,
} from '../../../src/modules/usage/unused-window.js';
import { Scheduler } from '../../../src/workers/scheduler.js';
import { expectEventually } from '../../fixtures/eventually.js';

describe('describeWindow', () => {
  it.each([
    [90 * 86_400, '90 days'],
    [86_400, '1 day'],
    [36 * 3600, '36 hours'],
    [90 * 60, '90 minutes'],
    [60, '1 minute'],
    [45, '45 seconds'],
    [1, '1 second'],
    [86_400 + 1, '86401 seconds'],
  ])('should say %d seconds as "%s"', (seconds, words) => {
    expect(describeWindow(seconds)).toBe(words);
  });
});

describe('requireUnusedWindow', () => {
  it.each([0, -1, 1.5, MAX_UNUSED_SECONDS + 1, Number.NaN])(
    'should refuse %d with BAD_USER_INPUT naming the field',
    (value) => {
      expect(() => requireUnusedWindow(value, 'olderThanSeconds')).toThrow(
        expect.objectContaining({
          extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
          message: expect.stringContaining('olderThanSeconds must be a whole number'),
        }),
      );
    },
  );

  it('should take 1 second to ten years', () => {
    expect(requireUnusedWindow(1, 'x')).toBe(1);
    expect(requireUnusedWindow(MAX_UNUSED_SECONDS, 'x')).toBe(MAX_UNUSED_SECONDS);
  });
});

describe('reaping configuration', () => {
  it('should leave the global default off unless REAP_UNUSED_AFTER_SECONDS is set', () => {
    expect(readConfig({}).reapUnusedAfterSeconds).toBeNull();
    expect(readConfig({ REAP_UNUSED_AFTER_SECONDS: '' }).reapUnusedAfterSeconds).toBeNull();
    expect(readConfig({ REAP_UNUSED_AFTER_SECONDS: '7776000' }).reapUnusedAfterSeconds).toBe(
      7_776_000,
    );
    expect(readConfig({}).reapIntervalMs).toBe(60_000);
    expect(readConfig({}).grantUsageFlushMs).toBe(2000);
  });

  it.each([
    ['REAP_UNUSED_AFTER_SECONDS', '0'],
    ['REAP_UNUSED_AFTER_SECONDS', 'ninety days'],
    ['REAP_INTERVAL_MS', '5'],
    ['GRANT_USAGE_FLUSH_MS', '600000'],
  ])('should refuse %s=%s', (name, value) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
  });
});

describe('GrantReaper', () => {
  it('should log a failed run and try again at its next interval, without throwing', async () => {
    let runs = 0;
    const database = {
      db: {
        transaction: async () => {
          runs += 1;
          throw new Error('database unavailable');
        },
      },
    } as unknown as Database;
    const logs: string[] = [];
    const reaper = new GrantReaper(
      database,
      (m) => logs.push(m),
      async () => {},
      {
        intervalMs: 10,
      },
    );

    const scheduler = new Scheduler(database, (m) => logs.push(m));
    scheduler.add(reaper.job());
    await scheduler.start();
    await expectEventually(
      async () => runs,
      (n) => n >= 2,
      'a second run',
    );
    await scheduler.stop();

    expect(logs[0]).toContain('The unused-grant reaper failed; retrying at its next interval');
  });

  it('should not run when the uses of this instance cannot be written first', async () => {
    let transactions = 0;
    const database = {
      db: { transaction: async () => (transactions += 1) },
    } as unknown as Database;
    const reaper = new GrantReaper(
      database,
      () => {},
      async () => {
        throw new Error('cannot flush');
      },
    );

    await expect(reaper.run()).rejects.toThrow('cannot flush');
    expect(transactions).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';

describe('expiry sweeper configuration', () => {
  it('should run the sweeper by default, with batches of 500 and a look at least every minute', () => {
    expect(readConfig({}).expirySweeper).toEqual({ batchSize: 500, idlePollMs: 60_000 });
  });

  it('should switch it off with EXPIRY_SWEEPER=off', () => {
    expect(readConfig({ EXPIRY_SWEEPER: 'off' }).expirySweeper).toBe(false);
  });

  it('should read EXPIRY_SWEEP_BATCH and EXPIRY_SWEEP_IDLE_MS', () => {
    const config = readConfig({ EXPIRY_SWEEP_BATCH: '50', EXPIRY_SWEEP_IDLE_MS: '5000' });

    expect(config.expirySweeper).toEqual({ batchSize: 50, idlePollMs: 5000 });
  });

  it.each([
    [{ EXPIRY_SWEEPER: 'maybe' }, 'EXPIRY_SWEEPER must be "on" or "off"; got "maybe".'],
    [{ EXPIRY_SWEEP_BATCH: '0' }, 'EXPIRY_SWEEP_BATCH must be a whole number from 1 to 10000'],
    [{ EXPIRY_SWEEP_IDLE_MS: '10' }, 'EXPIRY_SWEEP_IDLE_MS must be a whole number from 1000'],
  ])('should refuse %j', (env, message) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(message);
  });
});

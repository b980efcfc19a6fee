import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';

describe('authentication cache configuration', () => {
  it('should keep 1000 authentications by default', () => {
    expect(readConfig({}).authenticationCacheSize).toBe(1000);
  });

  it.each([
    ['0', 0],
    ['50000', 50_000],
  ])('should read AUTHENTICATION_CACHE_SIZE=%s', (raw, size) => {
    expect(readConfig({ AUTHENTICATION_CACHE_SIZE: raw }).authenticationCacheSize).toBe(size);
  });

  it.each(['-1', '1.5', 'lots', '1000001'])('should refuse AUTHENTICATION_CACHE_SIZE=%s', (raw) => {
    const env = { AUTHENTICATION_CACHE_SIZE: raw };

    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(
      `AUTHENTICATION_CACHE_SIZE must be a whole number from 0 to 1000000; got "${raw}".`,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';

describe('ACCESS_REQUEST_TTL_SECONDS', () => {
  it('should default to 24 hours', () => {
    expect(readConfig({}).accessRequestTtlSeconds).toBe(86_400);
  });

  it('should take a whole number of seconds from 60 to 30 days', () => {
    expect(readConfig({ ACCESS_REQUEST_TTL_SECONDS: '3600' }).accessRequestTtlSeconds).toBe(3600);
  });

  it.each(['59', '2592001', '1.5', 'soon'])('should refuse %s with a sentence naming it', (raw) => {
    expect(() => readConfig({ ACCESS_REQUEST_TTL_SECONDS: raw })).toThrow(ConfigError);
    expect(() => readConfig({ ACCESS_REQUEST_TTL_SECONDS: raw })).toThrow(
      `ACCESS_REQUEST_TTL_SECONDS must be a whole number from 60 to 2592000; got "${raw}".`,
    );
  });
});

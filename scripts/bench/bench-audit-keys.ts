/**
 * The audit keys every benchmark's Keyholder runs with: production refuses to start without them,
 * and instances sharing a database must share them. Fixed, so a kept database verifies across
 * runs; never use them outside benchmarks.
 */
export const BENCH_AUDIT_ENV = {
  AUDIT_HMAC_KEY: Buffer.alloc(32, 11).toString('base64'),
  AUDIT_SIGNING_KEY: Buffer.alloc(32, 13).toString('base64'),
} as const;

import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';
import { holdsSystemRead } from '../../../src/server/health-routes.js';
import { expirySweeperLagSeconds, routeOf } from '../../../src/server/metrics.js';

describe('METRICS_PORT', () => {
  it('should open no private listener unless set', () => {
    expect(readConfig({}).metricsPort).toBeNull();
    expect(readConfig({ METRICS_PORT: '' }).metricsPort).toBeNull();
    expect(readConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
  });

  it('should refuse a port that is not one, or that is PORT', () => {
    expect(() => readConfig({ METRICS_PORT: '0' })).toThrow(ConfigError);
    expect(() => readConfig({ METRICS_PORT: 'metrics' })).toThrow(
      'METRICS_PORT must be a whole number from 1 to 65535; got "metrics".',
    );
    expect(() => readConfig({ PORT: '4000', METRICS_PORT: '4000' })).toThrow(
      'METRICS_PORT must differ from PORT (4000)',
    );
  });
});

describe('route labels', () => {
  it('should label the operational paths and GraphQL, with or without a trailing slash', () => {
    expect(routeOf('/graphql')).toBe('/graphql');
    expect(routeOf('/metrics/')).toBe('/metrics');
    expect(routeOf('/readyz')).toBe('/readyz');
  });

  it('should label every other path "other", never the path itself', () => {
    expect(routeOf('/identities/3f2a')).toBe('other');
    expect(routeOf('/')).toBe('other');
    expect(routeOf('/graphql/x')).toBe('other');
  });
});

describe('the expiry sweeper lag', () => {
  const now = Date.parse('2026-12-04T10:00:00Z');
  const status = { recorded: 0, lastSweepAt: null, nextLookAt: null, failingSince: null };

  it('should be 0 while the next look is ahead', () => {
    expect(expirySweeperLagSeconds({ ...status, nextLookAt: new Date(now + 30_000) }, now)).toBe(0);
  });

  it('should count how long the next look is overdue', () => {
    expect(expirySweeperLagSeconds({ ...status, nextLookAt: new Date(now - 4_000) }, now)).toBe(4);
  });

  it('should count since looks started failing', () => {
    const failing = {
      ...status,
      failingSince: new Date(now - 90_000),
      nextLookAt: new Date(now + 1000),
    };
    expect(expirySweeperLagSeconds(failing, now)).toBe(90);
  });
});

describe('system:read for health and metrics', () => {
  const grant = {
    id: 'g1',
    identityId: 'i1',
    scope: 'system:read',
    resource: null,
    expiresAt: null,
    grantable: false,
    condition: null,
  };
  const now = Date.now();

  it('should be held through an unconditional grant on every instance', () => {
    expect(holdsSystemRead([grant], now)).toBe(true);
  });

  it('should not be held through a grant with a condition, a resource, or one that expired', () => {
    expect(holdsSystemRead([{ ...grant, condition: 'request.hour < 12' }], now)).toBe(false);
    expect(holdsSystemRead([{ ...grant, ownerCondition: 'true' }], now)).toBe(false);
    expect(holdsSystemRead([{ ...grant, resource: 'eu' }], now)).toBe(false);
    expect(holdsSystemRead([{ ...grant, expiresAt: new Date(now - 1) }], now)).toBe(false);
    expect(holdsSystemRead([{ ...grant, scope: 'audit:read' }], now)).toBe(false);
  });
});

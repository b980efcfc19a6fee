import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSample, caller, errorAt, grant } from './sample-schema.js';

const query = '{ health revenue order(id: "eu-1") { total } }';
const unavailable = {
  code: 'FORBIDDEN',
  reason: 'GRANTS_UNAVAILABLE',
};

describe('failing closed', () => {
  it('should deny guarded fields and still resolve unguarded ones when grants throws', async () => {
    const sample = buildSample({
      grants: () => {
        throw new Error('connection refused');
      },
    });
    const result = await sample.run(query, caller([]));

    expect(result.data).toEqual({ health: 'ok', revenue: null, order: null });
    expect(errorAt(result, ['revenue'])?.extensions).toMatchObject({
      ...unavailable,
      coordinate: 'Query.revenue',
    });
    expect(errorAt(result, ['revenue'])?.message).toBe(
      'Access to "Query.revenue" was denied because the caller\'s grants could not be loaded.',
    );
    expect(errorAt(result, ['order'])?.extensions).toMatchObject(unavailable);
    expect(sample.calls.get('Query.revenue')).toBeUndefined();
    expect(sample.calls.get('Query.order')).toBeUndefined();
    expect(sample.calls.get('Query.health')).toBe(1);
  });

  it('should deny guarded fields and still resolve unguarded ones when grants rejects', async () => {
    const sample = buildSample({ grants: () => Promise.reject(new Error('timeout')) });
    const result = await sample.run(query, caller([]));

    expect(result.data).toEqual({ health: 'ok', revenue: null, order: null });
    expect(result.errors?.map((e) => e.extensions)).toEqual([
      { ...unavailable, coordinate: 'Query.revenue' },
      { ...unavailable, coordinate: 'Query.order' },
    ]);
    expect(sample.calls.get('Query.revenue')).toBeUndefined();
  });

  it('should not leak the loading error to the client', async () => {
    const sample = buildSample({
      grants: () => Promise.reject(new Error('password authentication failed')),
    });
    const result = await sample.run(query, caller([]));

    expect(JSON.stringify(result)).not.toContain('password');
  });

  it('should deny guarded fields when grants returns something other than a list', async () => {
    const sample = buildSample({ grants: () => 'orders:read' as never });
    const result = await sample.run('{ revenue }', caller([]));

    expect(result.data).toEqual({ revenue: null });
    expect(errorAt(result, ['revenue'])?.extensions.code).toBe('FORBIDDEN');
  });

  it('should deny guarded fields when the context is not an object', async () => {
    const sample = buildSample();
    const result = await graphql({ schema: sample.schema, source: '{ health revenue }' });

    expect(result.data).toEqual({ health: 'ok', revenue: null });
    expect(errorAt(result, ['revenue'])?.extensions).toMatchObject(unavailable);
  });

  describe('expiry', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');

    it('should deny with a grant that expired before the operation', async () => {
      const sample = buildSample({ now: () => now });
      const result = await sample.run(
        '{ revenue }',
        caller([grant('orders:read', null, now - 1), grant('billing:read')]),
      );

      expect(result.data).toEqual({ revenue: null });
      expect(errorAt(result, ['revenue'])?.extensions.code).toBe('FORBIDDEN');
      expect(sample.calls.get('Query.revenue')).toBeUndefined();
    });

    it('should deny from the very instant a grant expires', async () => {
      const sample = buildSample({ now: () => now });
      const result = await sample.run(
        '{ revenue }',
        caller([grant('orders:read', null, now), grant('billing:read')]),
      );

      expect(result.data).toEqual({ revenue: null });
    });

    it('should read expiry given as a Date or an ISO string', async () => {
      const sample = buildSample({ now: () => now });
      const past = caller([
        grant('orders:read', null, new Date(now - 1000)),
        grant('billing:read', null, '2031-01-01T00:00:00Z'),
      ]);
      const future = caller([
        grant('orders:read', null, new Date(now + 1000)),
        grant('billing:read', null, '2031-01-01T00:00:00Z'),
      ]);

      expect((await sample.run('{ revenue }', past)).data).toEqual({ revenue: null });
      expect(await sample.run('{ revenue }', future)).toEqual({ data: { revenue: 600 } });
    });

    it('should deny with a grant whose expiry cannot be read', async () => {
      const sample = buildSample({ now: () => now });
      const result = await sample.run(
        '{ revenue }',
        caller([grant('orders:read', null, 'next tuesday'), grant('billing:read')]),
      );

      expect(result.data).toEqual({ revenue: null });
    });

    it('should deny an expired resource grant and fall back to a live one', async () => {
      const sample = buildSample({ now: () => now });
      const result = await sample.run(
        '{ orders { total } }',
        caller([grant('orders:read', 'eu-*', now - 1), grant('orders:read', 'eu-1', now + 1)]),
      );

      expect(result.data).toEqual({ orders: [{ total: 100 }, { total: null }, { total: null }] });
    });
  });
});

import { execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { allScopes, buildSample, caller, grant } from './sample-schema.js';

const wideQuery = /* GraphQL */ `{
  health
  revenue
  order(id: "eu-1") { total }
  orders { id total status internalNote refundable lines { quantity unitPrice } }
}`;

describe('operation planning', () => {
  for (const mode of ['sync', 'async'] as const) {
    it(`should call ${mode} grants once for an operation with several root fields`, async () => {
      const sample = buildSample({ grants: mode });
      const result = await sample.run(wideQuery, caller(allScopes()));

      expect(result.errors).toBeUndefined();
      expect(sample.grantsCalls()).toBe(1);
    });

    it(`should call ${mode} grants once for a mutation with several root fields`, async () => {
      const sample = buildSample({ grants: mode });
      const result = await sample.run(
        /* GraphQL */ `mutation {
          a: cancelOrder(id: "eu-1") { status }
          b: restock(id: "apple", quantity: 1) { id }
          c: cancelOrder(id: "us-1") { status }
        }`,
        caller(allScopes()),
      );

      expect(result.errors).toBeUndefined();
      expect(sample.grantsCalls()).toBe(1);
      expect(sample.store.writes).toEqual([
        'cancelOrder eu-1',
        'restock apple',
        'cancelOrder us-1',
      ]);
    });
  }

  it('should call grants once for a list of a thousand objects', async () => {
    const sample = buildSample({ extraOrders: 1000 });
    const result = await sample.run(wideQuery, caller(allScopes()));

    expect(result.errors).toBeUndefined();
    expect(result.data?.orders).toHaveLength(1003);
    expect(sample.calls.get('Order.internalNote')).toBe(1003);
    expect(sample.grantsCalls()).toBe(1);
  });

  it('should decide scope-only requirements once per field coordinate, whatever the list length', async () => {
    const small = buildSample();
    const large = buildSample({ extraOrders: 1000 });
    await small.run(wideQuery, caller(allScopes()));
    await large.run(wideQuery, caller(allScopes()));

    expect(large.calls.get('OrderLine.unitPrice')).toBe(2006);
    expect(large.nowCalls()).toBe(small.nowCalls());
    // One decision per guarded coordinate the operation reaches (Order's fields, lines, roots).
    expect(large.nowCalls()).toBeLessThanOrEqual(12);
  });

  it('should decide a denial once per coordinate and still report it at every path', async () => {
    const small = buildSample();
    const large = buildSample({ extraOrders: 1000 });
    const context = () => caller([grant('orders:read')]);
    await small.run('{ orders { total internalNote } }', context());
    const result = await large.run('{ orders { total internalNote } }', context());

    expect(result.errors).toHaveLength(1003);
    expect(new Set(result.errors?.map((e) => e.path?.[1])).size).toBe(1003);
    expect(large.nowCalls()).toBe(small.nowCalls());
  });

  it('should decide resource requirements for each value', async () => {
    const small = buildSample();
    const large = buildSample({ extraOrders: 1000 });
    const context = () => caller([grant('orders:read', 'bulk-*'), grant('orders:read', 'eu-1')]);
    const smallResult = await small.run('{ orders { total } }', context());
    const largeResult = await large.run('{ orders { total } }', context());

    expect(smallResult.errors?.map((e) => e.path)).toEqual([
      ['orders', 1, 'total'],
      ['orders', 2, 'total'],
    ]);
    expect(largeResult.errors).toHaveLength(2);
    expect(large.calls.get('Order.total')).toBe(1001);
    expect(large.nowCalls()).toBeGreaterThan(1000);
  });

  it('should load grants again for every operation, so a removed grant stops applying', async () => {
    const sample = buildSample();
    const grants = [grant('orders:read'), grant('billing:read')];
    const before = await sample.run('{ revenue }', caller(grants));
    grants.splice(1, 1);
    const after = await sample.run('{ revenue }', caller(grants));

    expect(before).toEqual({ data: { revenue: 600 } });
    expect(after.data).toEqual({ revenue: null });
    expect(sample.grantsCalls()).toBe(2);
  });

  it('should load grants again when one context object runs the same parsed document twice', async () => {
    const sample = buildSample();
    const document = parse('{ revenue }');
    const context = caller([grant('orders:read'), grant('billing:read')]);
    const before = await execute({ schema: sample.schema, document, contextValue: context });
    context.grants.pop();
    const after = await execute({ schema: sample.schema, document, contextValue: context });

    expect(before).toEqual({ data: { revenue: 600 } });
    expect(after.data).toEqual({ revenue: null });
    expect(after.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(sample.grantsCalls()).toBe(2);
  });

  it('should keep the decisions of concurrent operations apart', async () => {
    const sample = buildSample({ grants: 'async' });
    const query = '{ orders { customer { email } } }';
    const [ada, grace] = await Promise.all([
      sample.run(query, caller([grant('orders:read')], 'cus-ada')),
      sample.run(query, caller([grant('orders:read'), grant('customers:read')], 'cus-grace')),
    ]);

    expect(ada.data).toEqual({
      orders: [
        { customer: { email: 'ada@example.com' } },
        { customer: { email: null } },
        { customer: { email: 'ada@example.com' } },
      ],
    });
    expect(grace).toEqual({
      data: {
        orders: [
          { customer: { email: 'ada@example.com' } },
          { customer: { email: 'grace@example.com' } },
          { customer: { email: 'ada@example.com' } },
        ],
      },
    });
    expect(sample.grantsCalls()).toBe(2);
  });

  it('should treat sync and async grants alike', async () => {
    const sync = buildSample({ grants: 'sync' });
    const async = buildSample({ grants: 'async' });
    const context = () => caller([grant('orders:read', 'eu-*'), grant('customers:read')]);
    const query = '{ orders { total customer { email } } revenue }';

    expect(await async.run(query, context())).toEqual(await sync.run(query, context()));
  });
});

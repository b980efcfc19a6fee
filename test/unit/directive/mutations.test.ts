import { describe, expect, it } from 'vitest';
import { buildSample, caller, errorAt, grant } from './sample-schema.js';

describe('@requires on mutations', () => {
  it('should run a mutation the caller’s grants cover', async () => {
    const sample = buildSample();
    const result = await sample.run(
      'mutation { cancelOrder(id: "eu-1") { id status } }',
      caller([grant('orders:write', 'eu-*'), grant('orders:read', 'eu-*')]),
    );

    expect(result).toEqual({ data: { cancelOrder: { id: 'eu-1', status: 'CANCELLED' } } });
    expect(sample.store.writes).toEqual(['cancelOrder eu-1']);
  });

  it('should deny a mutation without running it, so nothing changes', async () => {
    const sample = buildSample();
    const result = await sample.run(
      'mutation { cancelOrder(id: "eu-1") { id status } }',
      caller([grant('orders:write', 'us-*'), grant('orders:read')]),
    );

    expect(result.data).toEqual({ cancelOrder: null });
    expect(errorAt(result, ['cancelOrder'])?.extensions).toEqual({
      code: 'FORBIDDEN',
      coordinate: 'Mutation.cancelOrder',
      requestAccess: { scope: 'orders:write', resource: 'eu-1' },
      required: {
        allOf: ['orders:write'],
        anyOf: [],
        resource: 'eu-1',
        declaredOn: 'Mutation.cancelOrder',
      },
    });
    expect(sample.calls.get('Mutation.cancelOrder')).toBeUndefined();
    expect(sample.store.writes).toEqual([]);
    expect(sample.store.orders.get('eu-1')?.status).toBe('OPEN');
  });

  it('should decide each field of a serial mutation on its own and keep the allowed ones', async () => {
    const sample = buildSample();
    const result = await sample.run(
      /* GraphQL */ `mutation {
        first: cancelOrder(id: "eu-1") { id }
        second: cancelOrder(id: "us-1") { id }
        third: cancelOrder(id: "eu-2") { id }
      }`,
      caller([grant('orders:write', 'eu-*'), grant('orders:read')]),
    );

    expect(result.data).toEqual({ first: { id: 'eu-1' }, second: null, third: { id: 'eu-2' } });
    expect(result.errors?.map((e) => e.path)).toEqual([['second']]);
    expect(sample.store.writes).toEqual(['cancelOrder eu-1', 'cancelOrder eu-2']);
  });

  it('should allow an anyOf mutation with either scope', async () => {
    const sample = buildSample();
    const result = await sample.run(
      'mutation { restock(id: "pear", quantity: 5) { id } }',
      caller([grant('warehouse:execute'), grant('catalog:read'), grant('inventory:read')]),
    );

    expect(result).toEqual({ data: { restock: { id: 'pear' } } });
    expect(sample.store.stock.get('pear')?.quantity).toBe(12);
  });

  it('should deny an allOf mutation when one scope is missing, with no side effect', async () => {
    const sample = buildSample();
    const result = await sample.run(
      'mutation { placeOrder(customerId: "cus-ada", productId: "apple") { id } }',
      caller([grant('orders:write')]),
    );

    expect(result.data).toEqual({ placeOrder: null });
    expect(errorAt(result, ['placeOrder'])?.extensions.required).toMatchObject({
      allOf: ['orders:write', 'billing:write'],
    });
    expect(sample.store.writes).toEqual([]);
    expect(sample.store.orders.size).toBe(3);
  });

  it('should still check the returned object’s fields after an allowed mutation', async () => {
    const sample = buildSample();
    const result = await sample.run(
      'mutation { placeOrder(customerId: "cus-ada", productId: "apple") { total status } }',
      caller([grant('orders:write'), grant('billing:write')]),
    );

    expect(result.data).toEqual({ placeOrder: { total: null, status: null } });
    expect(errorAt(result, ['placeOrder', 'total'])?.extensions.required).toMatchObject({
      allOf: ['orders:read'],
      resource: 'eu-4',
      declaredOn: 'type Order',
    });
    expect(sample.store.writes).toEqual(['placeOrder eu-4']);
  });
});

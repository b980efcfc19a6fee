import { describe, expect, it } from 'vitest';
import { allScopes, buildSample, caller, errorAt, grant } from './sample-schema.js';

describe('@requires on queries', () => {
  it('should resolve every field for a caller holding every scope', async () => {
    const sample = buildSample();
    const result = await sample.run(
      /* GraphQL */ `{
        order(id: "eu-1") {
          id status total internalNote refundable
          customer { id name email }
          lines { quantity unitPrice product { id name warehouse quantity } }
        }
      }`,
      caller(allScopes()),
    );

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      order: {
        id: 'eu-1',
        status: 'OPEN',
        total: 100,
        internalNote: 'note on eu-1',
        refundable: true,
        customer: { id: 'cus-ada', name: 'Ada', email: 'ada@example.com' },
        lines: [
          {
            quantity: 2,
            unitPrice: 30,
            product: { id: 'apple', name: 'Apple', warehouse: 'wh-north-1', quantity: 50 },
          },
          {
            quantity: 1,
            unitPrice: 40,
            product: { id: 'pear', name: 'Pear', warehouse: 'wh-south-1', quantity: 7 },
          },
        ],
      },
    });
  });

  it('should null a denied field with FORBIDDEN at its path, saying what was required, and keep the rest', async () => {
    const sample = buildSample();
    const result = await sample.run(
      '{ health order(id: "eu-1") { id total internalNote } }',
      caller([grant('orders:read')]),
    );

    expect(result.data).toEqual({
      health: 'ok',
      order: { id: 'eu-1', total: 100, internalNote: null },
    });
    expect(result.errors).toHaveLength(1);
    const error = errorAt(result, ['order', 'internalNote']);
    expect(error?.message).toBe(
      'Access to "Order.internalNote" requires scope "orders.notes:read".',
    );
    expect(error?.extensions).toEqual({
      code: 'FORBIDDEN',
      coordinate: 'Order.internalNote',
      requestAccess: { scope: 'orders.notes:read', resource: null },
      required: {
        allOf: ['orders.notes:read'],
        anyOf: [],
        resource: null,
        declaredOn: 'Order.internalNote',
      },
    });
  });

  it('should never call the resolver of a denied field', async () => {
    const sample = buildSample();
    await sample.run('{ orders { total internalNote } }', caller([grant('orders:read')]));

    expect(sample.calls.get('Order.total')).toBe(3);
    expect(sample.calls.get('Order.internalNote')).toBeUndefined();
  });

  it('should report a denied field of every list item at that item’s path', async () => {
    const sample = buildSample();
    const result = await sample.run(
      '{ orders { total internalNote } }',
      caller([grant('orders:read')]),
    );

    expect(result.data).toEqual({
      orders: [
        { total: 100, internalNote: null },
        { total: 200, internalNote: null },
        { total: 300, internalNote: null },
      ],
    });
    expect(result.errors?.map((e) => e.path)).toEqual([
      ['orders', 0, 'internalNote'],
      ['orders', 1, 'internalNote'],
      ['orders', 2, 'internalNote'],
    ]);
    expect(result.errors?.every((e) => e.extensions.code === 'FORBIDDEN')).toBe(true);
  });

  it('should deny a root field and never run it when the caller lacks its scope', async () => {
    const sample = buildSample();
    const result = await sample.run('{ health revenue }', caller([grant('orders:read')]));

    expect(result.data).toEqual({ health: 'ok', revenue: null });
    expect(errorAt(result, ['revenue'])?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      required: { allOf: ['orders:read', 'billing:read'], anyOf: [], declaredOn: 'Query.revenue' },
    });
    expect(sample.calls.get('Query.revenue')).toBeUndefined();
  });

  it('should null the nearest nullable parent when a denied field is non-null', async () => {
    const sample = buildSample();
    const result = await sample.run(
      '{ stock(id: "pear") { id } }',
      caller([grant('catalog:read')]),
    );

    expect(result.data).toEqual({ stock: null });
    expect(errorAt(result, ['stock', 'id'])?.extensions.code).toBe('FORBIDDEN');
  });

  describe('type-level requirements', () => {
    it('should apply a type’s requirement to each of its fields, declared on the type', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ order(id: "eu-1") { lines { quantity product { name } } } }',
        caller([grant('orders:read'), grant('inventory:read')]),
      );

      expect(result.data).toEqual({
        order: {
          lines: [
            { quantity: 2, product: { name: null } },
            { quantity: 1, product: { name: null } },
          ],
        },
      });
      expect(errorAt(result, ['order', 'lines', 0, 'product', 'name'])?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        coordinate: 'Product.name',
        required: { allOf: ['catalog:read'], declaredOn: 'type Product' },
      });
      expect(sample.calls.get('Product.name')).toBeUndefined();
    });

    it('should keep the type’s requirement when a field adds its own (requirements accumulate)', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ orders { internalNote } }',
        caller([grant('orders:read', 'eu-2'), grant('orders.notes:read')]),
      );

      expect(result.data).toEqual({
        orders: [{ internalNote: null }, { internalNote: 'note on eu-2' }, { internalNote: null }],
      });
      expect(errorAt(result, ['orders', 0, 'internalNote'])?.extensions).toMatchObject({
        required: { allOf: ['orders:read'], resource: 'eu-1', declaredOn: 'type Order' },
      });
      expect(sample.calls.get('Order.internalNote')).toBe(1);
    });
  });

  describe('interface requirements', () => {
    it('should add an interface’s and its fields’ requirements to every implementation', async () => {
      const sample = buildSample();
      const grants = [grant('catalog:read'), grant('inventory:read')];
      const result = await sample.run(
        /* GraphQL */ `{
          apple: stock(id: "apple") { warehouse quantity ... on Product { name } }
          box: stock(id: "fruit-box") { warehouse quantity }
        }`,
        caller(grants),
      );

      expect(result.data).toEqual({
        apple: { warehouse: 'wh-north-1', quantity: null, name: 'Apple' },
        box: { warehouse: 'wh-north-2', quantity: null },
      });
      for (const path of [
        ['apple', 'quantity'],
        ['box', 'quantity'],
      ]) {
        expect(errorAt(result, path)?.extensions).toMatchObject({
          code: 'FORBIDDEN',
          required: { allOf: ['inventory.counts:read'], declaredOn: 'Stocked.quantity' },
        });
      }
      expect(sample.calls.get('Product.quantity')).toBeUndefined();
      expect(sample.calls.get('Bundle.quantity')).toBeUndefined();
    });

    it('should check an interface-level resource on each implementation’s own value', async () => {
      const sample = buildSample();
      const result = await sample.run(
        /* GraphQL */ `{
          apple: stock(id: "apple") { warehouse quantity }
          pear: stock(id: "pear") { warehouse quantity }
          box: stock(id: "fruit-box") { warehouse }
        }`,
        caller([
          grant('catalog:read'),
          grant('inventory:read', 'wh-north-*'),
          grant('inventory.counts:read'),
        ]),
      );

      expect(result.data).toEqual({
        apple: { warehouse: 'wh-north-1', quantity: 50 },
        pear: { warehouse: null, quantity: null },
        box: { warehouse: 'wh-north-2' },
      });
      expect(errorAt(result, ['pear', 'warehouse'])?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        coordinate: 'Product.warehouse',
        required: {
          allOf: ['inventory:read'],
          resource: 'wh-south-1',
          declaredOn: 'interface Stocked',
        },
      });
      expect(errorAt(result, ['pear', 'warehouse'])?.message).toBe(
        'Access to "Product.warehouse" requires scope "inventory:read" on resource "wh-south-1".',
      );
      expect(result.errors).toHaveLength(2);
    });
  });

  describe('resource requirements', () => {
    it('should allow an argument resource covered by an exact grant and deny any other', async () => {
      const sample = buildSample();
      const context = caller([grant('orders:read', 'eu-2')]);
      const allowed = await sample.run('{ order(id: "eu-2") { total } }', context);
      const denied = await sample.run(
        '{ order(id: "eu-1") { total } }',
        caller([grant('orders:read', 'eu-2')]),
      );

      expect(allowed).toEqual({ data: { order: { total: 200 } } });
      expect(denied.data).toEqual({ order: null });
      expect(errorAt(denied, ['order'])?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        required: { allOf: ['orders:read'], resource: 'eu-1', declaredOn: 'Query.order' },
      });
      expect(sample.calls.get('Query.order')).toBe(1);
    });

    it('should allow every resource under a prefix grant and decide each list item on its own', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ orders { total status } }',
        caller([grant('orders:read', 'eu-*')]),
      );

      expect(result.data).toEqual({
        orders: [
          { total: 100, status: 'OPEN' },
          { total: 200, status: 'OPEN' },
          { total: null, status: null },
        ],
      });
      expect(result.errors?.map((e) => [e.path, e.extensions.required])).toEqual([
        [
          ['orders', 2, 'total'],
          { allOf: ['orders:read'], anyOf: [], resource: 'us-1', declaredOn: 'type Order' },
        ],
        [
          ['orders', 2, 'status'],
          { allOf: ['orders:read'], anyOf: [], resource: 'us-1', declaredOn: 'type Order' },
        ],
      ]);
      expect(sample.calls.get('Order.total')).toBe(2);
    });

    it('should read an argument resource given through a variable', async () => {
      const sample = buildSample();
      const query = 'query Order($id: ID!) { order(id: $id) { total } }';
      const context = () => caller([grant('orders:read', 'eu-*')]);

      expect(await sample.run(query, context(), { id: 'eu-2' })).toEqual({
        data: { order: { total: 200 } },
      });
      expect((await sample.run(query, context(), { id: 'us-1' })).data).toEqual({ order: null });
    });

    it('should let a grant without resource cover every instance', async () => {
      const sample = buildSample();
      const result = await sample.run('{ orders { id } }', caller([grant('orders:read')]));

      expect(result).toEqual({
        data: { orders: [{ id: 'eu-1' }, { id: 'eu-2' }, { id: 'us-1' }] },
      });
    });
  });

  describe('anyOf and allOf', () => {
    it('should allow anyOf with any one of its scopes', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ order(id: "eu-1") { refundable } }',
        caller([grant('orders:read'), grant('support:execute')]),
      );

      expect(result).toEqual({ data: { order: { refundable: true } } });
    });

    it('should deny anyOf with none of its scopes, naming them all', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ order(id: "eu-1") { refundable } }',
        caller([grant('orders:read')]),
      );

      const error = errorAt(result, ['order', 'refundable']);
      expect(error?.message).toBe(
        'Access to "Order.refundable" requires one of "billing:write", "support:execute".',
      );
      expect(error?.extensions.required).toEqual({
        allOf: [],
        anyOf: ['billing:write', 'support:execute'],
        resource: null,
        declaredOn: 'Order.refundable',
      });
    });

    it('should require every allOf scope', async () => {
      const sample = buildSample();
      const both = await sample.run(
        '{ revenue }',
        caller([grant('orders:read'), grant('billing:read')]),
      );
      const one = await sample.run('{ revenue }', caller([grant('billing:read')]));

      expect(both).toEqual({ data: { revenue: 600 } });
      expect(one.data).toEqual({ revenue: null });
      expect(errorAt(one, ['revenue'])?.message).toBe(
        'Access to "Query.revenue" requires scopes "orders:read", "billing:read".',
      );
    });

    it('should not let one action imply another', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ revenue }',
        caller([grant('orders:write'), grant('billing:write')]),
      );

      expect(result.data).toEqual({ revenue: null });
    });
  });

  describe('orSelf', () => {
    it('should let callers read their own record without any scope', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ me { id name email } customer(id: "cus-ada") { email } }',
        caller([]),
      );

      expect(result).toEqual({
        data: {
          me: { id: 'cus-ada', name: 'Ada', email: 'ada@example.com' },
          customer: { email: 'ada@example.com' },
        },
      });
    });

    it('should deny another identity’s record without the scope and never run its resolver', async () => {
      const sample = buildSample();
      const result = await sample.run('{ customer(id: "cus-grace") { email } }', caller([]));

      expect(result.data).toEqual({ customer: null });
      expect(errorAt(result, ['customer'])?.message).toBe(
        'Access to "Query.customer" requires scope "customers:read" on resource "cus-grace" (or being the identity it belongs to).',
      );
      expect(sample.calls.get('Query.customer')).toBeUndefined();
    });

    it('should allow another identity’s record with the scope', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ order(id: "eu-2") { customer { email } } }',
        caller([grant('orders:read'), grant('customers:read')]),
      );

      expect(result).toEqual({ data: { order: { customer: { email: 'grace@example.com' } } } });
    });

    it('should decide orSelf for each value of a list', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ orders { customer { email } } }',
        caller([grant('orders:read')]),
      );

      expect(result.data).toEqual({
        orders: [
          { customer: { email: 'ada@example.com' } },
          { customer: { email: null } },
          { customer: { email: 'ada@example.com' } },
        ],
      });
      expect(result.errors?.map((e) => e.path)).toEqual([['orders', 1, 'customer', 'email']]);
      expect(sample.calls.get('Customer.email')).toBe(2);
    });
  });

  describe('@authenticated', () => {
    it('should allow any identified caller without scopes', async () => {
      const sample = buildSample();
      const result = await sample.run('{ me { name } }', caller([]));

      expect(result).toEqual({ data: { me: { name: 'Ada' } } });
    });

    it('should refuse an anonymous caller with UNAUTHENTICATED and never run the resolver', async () => {
      const sample = buildSample();
      const result = await sample.run(
        '{ health me { name } orders { id } }',
        caller([grant('orders:read')], null),
      );

      expect(result.data).toEqual({ health: 'ok', me: null, orders: null });
      expect(errorAt(result, ['me'])?.extensions).toEqual({
        code: 'UNAUTHENTICATED',
        coordinate: 'Query.me',
      });
      expect(errorAt(result, ['me'])?.message).toBe(
        'Access to "Query.me" requires an authenticated caller.',
      );
      expect(sample.calls.get('Query.me')).toBeUndefined();
      expect(sample.calls.get('Query.orders')).toBeUndefined();
    });
  });
});

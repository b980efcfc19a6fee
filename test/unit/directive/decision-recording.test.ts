import type { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GrantLike } from '../../../src/index.js';
import { buildSample, caller, grant, type SampleContext } from './sample-schema.js';

interface Recorded {
  readonly allowed: { coordinate: string; scopes: string[] }[];
  readonly denied: { coordinate: string; code: unknown; message: string }[];
}

/** A recorder per context, so each spec sees what one operation reported. */
function recording() {
  const byContext = new Map<SampleContext, Recorded>();
  const decisions = (context: SampleContext) => {
    const recorded: Recorded = { allowed: [], denied: [] };
    byContext.set(context, recorded);
    return {
      allowed: (coordinate: string, grants: readonly GrantLike[]) =>
        recorded.allowed.push({ coordinate, scopes: grants.map((g) => g.scope) }),
      denied: (coordinate: string, error: GraphQLError) =>
        recorded.denied.push({ coordinate, code: error.extensions.code, message: error.message }),
    };
  };
  return { decisions, of: (context: SampleContext) => byContext.get(context) };
}

describe('recording decisions', () => {
  it('should report a scope-only coordinate once per operation with the grants that allowed it', async () => {
    const { decisions, of } = recording();
    const sample = buildSample({ decisions, extraOrders: 20 });
    const context = caller([grant('orders:read'), grant('orders.notes:read')]);

    await sample.run('{ orders { internalNote } }', context);

    const notes = of(context)?.allowed.filter((a) => a.coordinate === 'Order.internalNote');
    // The field's own scope and its type's, both held for every instance.
    expect(notes).toEqual([
      { coordinate: 'Order.internalNote', scopes: ['orders:read', 'orders.notes:read'] },
    ]);
    expect(of(context)?.denied).toEqual([]);
  });

  it('should report a denied scope-only coordinate once, with its FORBIDDEN error', async () => {
    const { decisions, of } = recording();
    const sample = buildSample({ decisions, extraOrders: 20 });
    const context = caller([grant('orders:read')]);

    await sample.run('{ orders { internalNote } }', context);

    expect(of(context)?.denied).toEqual([
      {
        coordinate: 'Order.internalNote',
        code: 'FORBIDDEN',
        message: 'Access to "Order.internalNote" requires scope "orders.notes:read".',
      },
    ]);
  });

  it('should report resource checks per value, allowed and denied', async () => {
    const { decisions, of } = recording();
    const sample = buildSample({ decisions });
    const context = caller([grant('orders:read', 'eu-*')]);

    await sample.run('{ orders { id } }', context);

    const orderIds = of(context)?.allowed.filter((a) => a.coordinate === 'Order.id') ?? [];
    const deniedIds = of(context)?.denied.filter((d) => d.coordinate === 'Order.id') ?? [];
    expect(orderIds).toHaveLength(2);
    expect(orderIds[0]?.scopes).toEqual(['orders:read']);
    expect(deniedIds).toHaveLength(1);
    expect(deniedIds[0]?.message).toContain('on resource "us-1"');
  });

  it('should report self access as allowed with no grant', async () => {
    const { decisions, of } = recording();
    const sample = buildSample({ decisions });
    const context = caller([]);

    await sample.run('{ me { email } }', context);

    expect(of(context)?.allowed).toContainEqual({ coordinate: 'Customer.email', scopes: [] });
  });

  it('should report a denial when grants cannot be loaded', async () => {
    const { decisions, of } = recording();
    const sample = buildSample({
      decisions,
      grants: () => Promise.reject(new Error('down')),
    });
    const context = caller([]);

    await sample.run('{ revenue }', context);

    expect(of(context)?.denied).toEqual([
      {
        coordinate: 'Query.revenue',
        code: 'FORBIDDEN',
        message:
          'Access to "Query.revenue" was denied because the caller\'s grants could not be loaded.',
      },
    ]);
  });

  it('should ask for a recorder once per operation', async () => {
    let asked = 0;
    const sample = buildSample({
      decisions: () => {
        asked += 1;
        return undefined;
      },
      extraOrders: 10,
    });

    await sample.run(
      '{ orders { id total internalNote } revenue }',
      caller([grant('orders:read')]),
    );

    expect(asked).toBe(1);
  });
});

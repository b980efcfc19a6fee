import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSample, caller, grant, isStream, type Sample } from './sample-schema.js';

const orderPlaced = 'subscription { orderPlaced { id total } }';

function place(sample: Sample, id: string): void {
  const order = sample.store.orders.get(id);
  if (order === undefined) throw new Error(`The sample has no order "${id}".`);
  sample.store.orderFeed.publish({ orderPlaced: order });
}

async function open(sample: Sample, source: string, context: ReturnType<typeof caller>) {
  const stream = await sample.subscribe(source, context);
  if (!isStream(stream))
    throw new Error(`Subscribing was refused: ${JSON.stringify(stream.errors)}`);
  return stream;
}

describe('@requires on subscriptions', () => {
  it('should deliver events while the subscriber holds the grants', async () => {
    const sample = buildSample();
    const stream = await open(sample, orderPlaced, caller([grant('orders:read')]));
    place(sample, 'eu-1');
    place(sample, 'us-1');

    expect(await stream.next()).toEqual({
      done: false,
      value: { data: { orderPlaced: { id: 'eu-1', total: 100 } } },
    });
    expect(await stream.next()).toEqual({
      done: false,
      value: { data: { orderPlaced: { id: 'us-1', total: 300 } } },
    });
    await stream.return(undefined);
  });

  it('should refuse to subscribe without the grant and never start the source', async () => {
    const sample = buildSample();
    const result = (await sample.subscribe(
      orderPlaced,
      caller([grant('orders:read', 'eu-*')]),
    )) as ExecutionResult;

    expect(isStream(result)).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.message).toBe(
      'Access to "Subscription.orderPlaced" requires scope "orders:read".',
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      coordinate: 'Subscription.orderPlaced',
      requestAccess: { scope: 'orders:read', resource: null },
    });
    expect(result.errors?.[0]?.path).toEqual(['orderPlaced']);
    expect(sample.calls.get('Subscription.orderPlaced')).toBeUndefined();
  });

  it('should refuse to subscribe when grants cannot be loaded', async () => {
    const sample = buildSample({ grants: () => Promise.reject(new Error('down')) });
    const result = (await sample.subscribe(orderPlaced, caller([]))) as ExecutionResult;

    expect(isStream(result)).toBe(false);
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'GRANTS_UNAVAILABLE',
    });
  });

  it('should end the stream with FORBIDDEN when the grant is removed between events', async () => {
    const sample = buildSample();
    const context = caller([grant('orders:read')]);
    const stream = await open(sample, orderPlaced, context);
    place(sample, 'eu-1');
    expect((await stream.next()).value).toEqual({
      data: { orderPlaced: { id: 'eu-1', total: 100 } },
    });

    context.grants.splice(0, context.grants.length);
    place(sample, 'eu-2');
    place(sample, 'us-1');
    const denied = await stream.next();

    expect(denied.done).toBe(false);
    expect(denied.value.data).toEqual({ orderPlaced: null });
    expect(denied.value.errors?.map((e: { extensions: unknown }) => e.extensions)).toEqual([
      {
        code: 'FORBIDDEN',
        coordinate: 'Subscription.orderPlaced',
        requestAccess: { scope: 'orders:read', resource: null },
        required: {
          allOf: ['orders:read'],
          anyOf: [],
          resource: null,
          declaredOn: 'Subscription.orderPlaced',
        },
      },
    ]);
    expect(JSON.stringify(denied.value)).not.toContain('200');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(sample.store.orderFeed.delivered).toBe(2);
  });

  it('should end the stream when a grant expires between events', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const sample = buildSample({ now: () => now });
    const stream = await open(
      sample,
      orderPlaced,
      caller([grant('orders:read', null, now + 60_000)]),
    );
    place(sample, 'eu-1');
    expect((await stream.next()).value).toEqual({
      data: { orderPlaced: { id: 'eu-1', total: 100 } },
    });

    now += 60_000;
    place(sample, 'eu-2');

    expect((await stream.next()).value.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await stream.next()).done).toBe(true);
  });

  it('should end the stream when grants cannot be loaded for an event', async () => {
    let failing = false;
    const sample = buildSample({
      grants: async (context) => {
        if (failing) throw new Error('down');
        return context.grants;
      },
    });
    const stream = await open(sample, orderPlaced, caller([grant('orders:read')]));
    failing = true;
    place(sample, 'eu-1');

    const denied = await stream.next();
    expect(denied.value.data).toEqual({ orderPlaced: null });
    expect(denied.value.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'GRANTS_UNAVAILABLE',
    });
    expect((await stream.next()).done).toBe(true);
  });

  it('should check the event’s own fields against the grants of that event', async () => {
    const sample = buildSample();
    const context = caller([grant('orders:read'), grant('orders.notes:read')]);
    const stream = await open(sample, 'subscription { orderPlaced { id internalNote } }', context);
    place(sample, 'eu-1');
    expect((await stream.next()).value).toEqual({
      data: { orderPlaced: { id: 'eu-1', internalNote: 'note on eu-1' } },
    });

    context.grants.pop();
    place(sample, 'eu-2');
    const next = await stream.next();

    expect(next.value.data).toEqual({ orderPlaced: { id: 'eu-2', internalNote: null } });
    expect(next.value.errors?.[0]?.path).toEqual(['orderPlaced', 'internalNote']);
    await stream.return(undefined);
  });

  it('should load grants once at subscribe time and once per event', async () => {
    const sample = buildSample({ grants: 'async' });
    const stream = await open(
      sample,
      'subscription { orderPlaced { id total status } }',
      caller([grant('orders:read')]),
    );
    place(sample, 'eu-1');
    place(sample, 'eu-2');
    await stream.next();
    await stream.next();

    expect(sample.grantsCalls()).toBe(3);
    await stream.return(undefined);
  });
});

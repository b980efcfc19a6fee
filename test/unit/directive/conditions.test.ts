import { describe, expect, it } from 'vitest';
import {
  type ConditionalGrant,
  conditionContextOf,
  GrantConditions,
  type GrantLike,
} from '../../../src/index.js';
import { buildSample, caller, errorAt, type SampleContext } from './sample-schema.js';

type Grant = GrantLike & ConditionalGrant;

/** A gate per operation whose context says the request came from `ip`. */
function gateFrom(ip: string) {
  return (_: SampleContext) =>
    new GrantConditions<Grant>(
      () => undefined,
      () => conditionContextOf({ ip }),
      undefined,
    );
}

const OFFICE = 'cidr(request.ip, "10.0.0.0/8")';

describe('conditions through @requires on a sample schema', () => {
  it('should resolve a field whose grant carries a condition that holds', async () => {
    const sample = buildSample({ gate: gateFrom('10.1.2.3') });

    const result = await sample.run(
      '{ order(id: "eu-1") { id total } }',
      caller([{ id: 'g1', scope: 'orders:read', resource: 'eu-*', condition: OFFICE } as Grant]),
    );

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ order: { id: 'eu-1', total: 100 } });
  });

  it('should deny, name the condition and never run the resolver when it does not hold', async () => {
    const sample = buildSample({ gate: gateFrom('192.0.2.7') });

    const result = await sample.run(
      'mutation { cancelOrder(id: "eu-1") { id } }',
      caller([{ id: 'g1', scope: 'orders:write', condition: OFFICE } as Grant]),
    );

    const error = errorAt(result, ['cancelOrder']);
    if (error === undefined) throw new Error('Expected an error at cancelOrder.');
    expect(error.extensions.code).toBe('FORBIDDEN');
    expect(error.message).toBe(
      `Access to "Mutation.cancelOrder" requires scope "orders:write" on resource "eu-1". A grant was held, but the condition of grant g1 \`${OFFICE}\` was false (request.ip = "192.0.2.7").`,
    );
    expect(error.extensions.conditions).toEqual([
      expect.objectContaining({ grantId: 'g1', result: 'FALSE' }),
    ]);
    expect(sample.store.writes).toEqual([]);
  });

  it('should decide a condition that reads the resource per value, and others once', async () => {
    const sample = buildSample({ gate: gateFrom('10.1.2.3') });

    const result = await sample.run(
      '{ eu: order(id: "eu-1") { id } us: order(id: "us-1") { id } }',
      caller([
        { id: 'g1', scope: 'orders:read', condition: 'resource.startsWith("eu-")' } as Grant,
      ]),
    );

    expect(result.data).toEqual({ eu: { id: 'eu-1' }, us: null });
    expect(errorAt(result, ['us'])?.message).toContain('(resource = "us-1")');
  });

  it('should deny every guarded field when the gate cannot be built (fail closed)', async () => {
    const sample = buildSample({
      gate: () => {
        throw new Error('no context');
      },
    });

    const result = await sample.run(
      '{ health order(id: "eu-1") { id } }',
      caller([{ id: 'g1', scope: 'orders:read' } as Grant]),
    );

    expect(result.data).toEqual({ health: 'ok', order: null });
    expect(errorAt(result, ['order'])?.extensions.reason).toBe('GRANTS_UNAVAILABLE');
  });
});

import { describe, expect, it } from 'vitest';
import { buildSample, caller, errorAt } from './sample-schema.js';

describe('a principal option that returns a promise', () => {
  it('should let the caller read its own data when the id resolves', async () => {
    const sample = buildSample({ principal: async (context) => context.identityId });
    const result = await sample.run('{ me { id name email } }', caller([]));

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: { id: 'cus-ada', name: 'Ada', email: 'ada@example.com' } });
  });

  it('should deny @authenticated fields with UNAUTHENTICATED when the id resolves to null', async () => {
    const sample = buildSample({ principal: async () => null });
    const result = await sample.run('{ health me { id } }', caller([]));

    expect(result.data).toEqual({ health: 'ok', me: null });
    expect(errorAt(result, ['me'])?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('should deny every guarded field and still resolve unguarded ones when it rejects', async () => {
    const sample = buildSample({
      grants: 'async',
      principal: () => Promise.reject(new Error('Keyholder did not answer')),
    });
    const result = await sample.run('{ health me { id } order(id: "eu-1") { id } }', caller([]));

    expect(result.data).toEqual({ health: 'ok', me: null, order: null });
    expect(result.errors?.map((e) => e.extensions)).toEqual([
      { code: 'FORBIDDEN', reason: 'GRANTS_UNAVAILABLE', coordinate: 'Query.me' },
      { code: 'FORBIDDEN', reason: 'GRANTS_UNAVAILABLE', coordinate: 'Query.order' },
    ]);
    expect(sample.calls.get('Query.me')).toBeUndefined();
    expect(JSON.stringify(result)).not.toContain('did not answer');
  });
});

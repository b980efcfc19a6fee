import { describe, expect, it } from 'vitest';
import { pageOf } from './router';

describe('console paths', () => {
  it('name a page and its rest', () => {
    expect(pageOf('/console')).toEqual({ page: '', rest: [] });
    expect(pageOf('/console/')).toEqual({ page: '', rest: [] });
    expect(pageOf('/console/audit')).toEqual({ page: 'audit', rest: [] });
    expect(pageOf('/console/identities/abc%20d')).toEqual({ page: 'identities', rest: ['abc d'] });
  });

  it('open GraphiQL at /graphql', () => {
    expect(pageOf('/graphql')).toEqual({ page: 'graphiql', rest: [] });
  });
});

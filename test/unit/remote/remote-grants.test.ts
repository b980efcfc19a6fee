import { describe, expect, it } from 'vitest';
import { remoteGrants } from '../../../src/index.js';

const apiKey = (ctx: { key: string | null }) => ctx.key;

describe('remoteGrants options', () => {
  it.each(['keyholder:4000/graphql', 'ftp://keyholder/graphql', '/graphql', ''])(
    'should refuse %j as url, naming it',
    (url) => {
      expect(() => remoteGrants({ url, apiKey })).toThrow(
        new TypeError(
          `remoteGrants: url must be Keyholder's absolute http or https GraphQL endpoint, got "${url}".`,
        ),
      );
    },
  );

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'should refuse %s as timeoutMs',
    (timeoutMs) => {
      expect(() =>
        remoteGrants({ url: 'http://127.0.0.1:4000/graphql', apiKey, timeoutMs }),
      ).toThrow(RangeError);
    },
  );

  it('should refuse an apiKey that is not a function', () => {
    expect(() =>
      remoteGrants({ url: 'http://127.0.0.1:4000/graphql', apiKey: 'kh_x' as never }),
    ).toThrow('remoteGrants: apiKey must be a function');
  });

  it('should reject, so the directive denies, when the context is not an object', async () => {
    const remote = remoteGrants<unknown>({
      url: 'http://127.0.0.1:4000/graphql',
      apiKey: () => 'kh_x',
    });

    await expect(remote.grants(undefined)).rejects.toThrow(
      'remoteGrants needs an object as the GraphQL context, one per request.',
    );
  });

  it('should resolve an anonymous caller without asking anyone', async () => {
    let asked = 0;
    const remote = remoteGrants({
      url: 'http://127.0.0.1:4000/graphql',
      apiKey,
      fetch: () => {
        asked += 1;
        return Promise.reject(new Error('unreachable'));
      },
    });

    expect(await remote.grants({ key: null })).toEqual([]);
    expect(await remote.principal({ key: '' })).toBeNull();
    expect(asked).toBe(0);
  });
});

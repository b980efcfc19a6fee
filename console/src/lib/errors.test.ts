import { describe, expect, it } from 'vitest';
import { apiErrorOf, denialOf, offeredTtlSeconds, requestAccessOf } from './errors';

describe('errors as the console shows them', () => {
  it('keeps the message, code and path of a GraphQL error', () => {
    expect(
      apiErrorOf({
        message: 'Scope "x:read" is not defined.',
        path: ['grant'],
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ).toEqual({
      message: 'Scope "x:read" is not defined.',
      code: 'BAD_USER_INPUT',
      path: ['grant'],
      requestAccess: null,
    });
  });

  it('reads the requestAccess hint of a FORBIDDEN error', () => {
    const error = apiErrorOf({
      message: 'Requires audit:read.',
      extensions: {
        code: 'FORBIDDEN',
        requestAccess: {
          scope: 'audit:read',
          resource: null,
          ttlSeconds: 7200,
          autoApproved: false,
        },
      },
    });
    expect(error.requestAccess).toEqual({
      scope: 'audit:read',
      resource: null,
      ttlSeconds: 7200,
      autoApproved: false,
    });
    expect(denialOf([apiErrorOf({ message: 'x' }), error])).toBe(error);
    expect(
      offeredTtlSeconds(
        error.requestAccess ?? { scope: '', resource: null, ttlSeconds: null, autoApproved: false },
      ),
    ).toBe(7200);
  });

  it('offers nothing for a malformed hint, or one on another code', () => {
    expect(requestAccessOf({ requestAccess: { scope: 42 } })).toBeNull();
    expect(requestAccessOf({})).toBeNull();
    expect(
      apiErrorOf({
        message: 'x',
        extensions: { code: 'BAD_USER_INPUT', requestAccess: { scope: 'a:read' } },
      }).requestAccess,
    ).toBeNull();
    expect(
      offeredTtlSeconds({ scope: 'a:read', resource: null, ttlSeconds: null, autoApproved: false }),
    ).toBe(3600);
  });

  it('turns anything thrown into an error with a message', () => {
    expect(apiErrorOf('boom').message).toBe('boom');
    expect(denialOf([])).toBeNull();
  });
});

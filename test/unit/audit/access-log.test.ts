import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { AccessRecord } from '../../../src/modules/audit/access-record.js';
import type { ActiveGrant } from '../../../src/modules/grants/live-grants.js';

function activeGrant(id: string, scope: string): ActiveGrant {
  return {
    id,
    identityId: 'caller',
    scope,
    resource: null,
    expiresAt: null,
    grantable: false,
    condition: null,
  };
}

function forbidden(coordinate: string, required?: { allOf?: string[]; anyOf?: string[] }) {
  return new GraphQLError(`Access to "${coordinate}" was denied.`, {
    extensions: { code: 'FORBIDDEN', coordinate, ...(required ? { required } : {}) },
  });
}

describe('AccessRecord', () => {
  it('should start empty, with nothing denied', () => {
    const record = new AccessRecord();

    expect(record.isEmpty).toBe(true);
    expect(record.anyDenied).toBe(false);
    expect(record.take()).toEqual({ allowed: [], denied: [], scopes: [], conditions: [] });
  });

  it('should list each allowed coordinate once with the distinct ids of the grants that allowed it, sorted', () => {
    const record = new AccessRecord();
    const read = activeGrant('g-2', 'identities:read');
    const write = activeGrant('g-1', 'identities:write');

    record.allowed('Query.identities', [read]);
    record.allowed('Mutation.createIdentity', [write, read]);
    record.allowed('Query.identities', [read]);
    record.allowed('Identity.id', []);

    expect(record.isEmpty).toBe(false);
    expect(record.anyDenied).toBe(false);
    expect(record.take()).toEqual({
      allowed: [
        { coordinate: 'Identity.id', grantIds: [] },
        { coordinate: 'Mutation.createIdentity', grantIds: ['g-1', 'g-2'] },
        { coordinate: 'Query.identities', grantIds: ['g-2'] },
      ],
      denied: [],
      scopes: ['identities:read', 'identities:write'],
      conditions: [],
    });
  });

  it('should count repeated denials of a coordinate and keep the first reason and code', () => {
    const record = new AccessRecord();
    const first = forbidden('Identity.id', { allOf: ['identities:read'] });

    record.denied('Identity.id', first);
    record.denied(
      'Identity.id',
      new GraphQLError('Another reason.', { extensions: { code: 'X' } }),
    );
    record.denied('Identity.id', first);

    expect(record.anyDenied).toBe(true);
    expect(record.take().denied).toEqual([
      { coordinate: 'Identity.id', code: 'FORBIDDEN', reason: first.message, count: 3 },
    ]);
  });

  it('should name the scopes of allowing grants and the required scopes (allOf and anyOf) of denials', () => {
    const record = new AccessRecord();

    record.allowed('Query.grants', [activeGrant('g-1', 'grants:read')]);
    record.denied('Query.scope', forbidden('Query.scope', { allOf: ['scopes:read'] }));
    record.denied(
      'Mutation.grant',
      forbidden('Mutation.grant', {
        allOf: ['grants:write'],
        anyOf: ['audit:read', 'grants:read'],
      }),
    );
    record.denied(
      'Query.me',
      new GraphQLError('No caller.', { extensions: { code: 'UNAUTHENTICATED' } }),
    );

    const { denied, scopes } = record.take();
    expect(scopes).toEqual(['audit:read', 'grants:read', 'grants:write', 'scopes:read']);
    expect(denied.map((d) => [d.coordinate, d.code])).toEqual([
      ['Mutation.grant', 'FORBIDDEN'],
      ['Query.me', 'UNAUTHENTICATED'],
      ['Query.scope', 'FORBIDDEN'],
    ]);
  });

  it('should clear what take() returned, so a subscription records its next round afresh', () => {
    const record = new AccessRecord();
    record.allowed('Subscription.auditEvents', [activeGrant('g-1', 'audit:read')]);
    record.denied('Subscription.auditEvents', forbidden('Subscription.auditEvents'));
    record.take();

    expect(record.isEmpty).toBe(true);
    expect(record.anyDenied).toBe(false);

    record.denied('Subscription.auditEvents', forbidden('Subscription.auditEvents'));
    expect(record.take()).toEqual({
      allowed: [],
      denied: [
        {
          coordinate: 'Subscription.auditEvents',
          code: 'FORBIDDEN',
          reason: 'Access to "Subscription.auditEvents" was denied.',
          count: 1,
        },
      ],
      scopes: [],
      conditions: [],
    });
  });
});

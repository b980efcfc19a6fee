import { describe, expect, it } from 'vitest';
import { auditViewOf, isAccessEvent, mergeEvents, searchOf, showsEvent } from './audit-filter';

describe('the live audit view in the URL', () => {
  it('reads every filter from the query string and hides access events by default', () => {
    const view = auditViewOf(
      '?actorId=a1&subjectId=s1&action=grant.&scope=orders:read&from=2026-01-01T00:00:00Z',
    );
    expect(view).toEqual({
      filter: {
        actorId: 'a1',
        subjectId: 's1',
        action: 'grant.',
        scope: 'orders:read',
        from: '2026-01-01T00:00:00.000Z',
      },
      showAccess: false,
    });
  });

  it('leaves out empty, unknown and malformed parameters', () => {
    expect(auditViewOf('?action=&decision=MAYBE&from=yesterday&colour=red')).toEqual({
      filter: {},
      showAccess: false,
    });
  });

  it('shows access events when asked, or when filtering on a decision', () => {
    expect(auditViewOf('?access=shown').showAccess).toBe(true);
    expect(auditViewOf('?decision=DENIED')).toEqual({
      filter: { decision: 'DENIED' },
      showAccess: true,
    });
  });

  it('writes back the same view it reads', () => {
    const view = auditViewOf('?action=grant.created&scope=a:read&access=shown');
    expect(auditViewOf(`?${searchOf(view)}`)).toEqual(view);
    expect(searchOf({ filter: {}, showAccess: false })).toBe('');
  });
});

describe('which events the feed shows', () => {
  it('treats access.allowed and access.denied as access events, changes not', () => {
    expect(isAccessEvent('access.denied')).toBe(true);
    expect(isAccessEvent('grant.created')).toBe(false);
    expect(showsEvent({ filter: {}, showAccess: false }, 'access.allowed')).toBe(false);
    expect(showsEvent({ filter: {}, showAccess: true }, 'access.allowed')).toBe(true);
    expect(showsEvent({ filter: {}, showAccess: false }, 'identity.created')).toBe(true);
  });

  it('merges newest first without duplicates, up to the limit', () => {
    const e = (id: string) => ({ id });
    expect(mergeEvents([e('3'), e('2')], [e('2'), e('1')], 10)).toEqual([e('3'), e('2'), e('1')]);
    expect(mergeEvents([e('3')], [e('2'), e('1')], 2)).toEqual([e('3'), e('2')]);
  });
});

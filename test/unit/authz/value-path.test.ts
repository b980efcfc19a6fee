import {
  type Clause,
  describeClause,
  parseValuePath,
  readValuePath,
} from 'keyholder-directive/authz/requirement.js';
import { describe, expect, it } from 'vitest';

function clause(allOf: string[], anyOf: string[] = []): Clause {
  return { allOf, anyOf, resource: null, orSelf: null, origin: 'Query.a' };
}

describe('parseValuePath', () => {
  it('should parse argument and parent paths, nested ones included', () => {
    expect(parseValuePath('args.id')).toEqual({ from: 'args', keys: ['id'], text: 'args.id' });
    expect(parseValuePath('parent.owner.id')).toEqual({
      from: 'parent',
      keys: ['owner', 'id'],
      text: 'parent.owner.id',
    });
  });

  it.each(['id', 'args', 'args.', 'args..id', 'source.id', 'parent.1x', 'parent.id ', 'args.id-x'])(
    'should refuse "%s"',
    (text) => {
      expect(parseValuePath(text)).toBeNull();
    },
  );
});

describe('readValuePath', () => {
  const read = (text: string, parent: unknown, args: Record<string, unknown> = {}) => {
    const path = parseValuePath(text);
    if (path === null) throw new Error(`"${text}" is not a path.`);
    return readValuePath(path, parent, args);
  };

  it('should read strings from arguments and from the parent, following nested keys', () => {
    expect(read('args.id', null, { id: 'eu-1' })).toBe('eu-1');
    expect(read('parent.owner.id', { owner: { id: 'cus-1' } })).toBe('cus-1');
  });

  it('should read finite numbers and bigints as decimal text', () => {
    expect(read('parent.id', { id: 42 })).toBe('42');
    expect(read('parent.id', { id: 12345678901234567890n })).toBe('12345678901234567890');
  });

  it.each([
    ['a missing key', {}],
    ['null', { id: null }],
    ['an object', { id: { value: 'x' } }],
    ['a list', { id: ['x'] }],
    ['a boolean', { id: true }],
    ['NaN', { id: Number.NaN }],
    ['infinity', { id: Number.POSITIVE_INFINITY }],
  ])('should give null for %s', (_, parent) => {
    expect(read('parent.id', parent)).toBeNull();
  });

  it('should give null when an intermediate value is not an object', () => {
    expect(read('parent.owner.id', { owner: 'cus-1' })).toBeNull();
    expect(read('parent.id', null)).toBeNull();
  });
});

describe('describeClause', () => {
  it('should name one scope, several scopes and alternatives', () => {
    expect(describeClause(clause(['a:read']))).toBe('scope "a:read"');
    expect(describeClause(clause(['a:read', 'b:write']))).toBe('scopes "a:read", "b:write"');
    expect(describeClause(clause([], ['a:read', 'b:read']))).toBe('one of "a:read", "b:read"');
    expect(describeClause(clause(['a:read'], ['b:read', 'c:read']))).toBe(
      'scope "a:read" and one of "b:read", "c:read"',
    );
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRevisions, parseRevision } from '../../../src/modules/revision/revision.js';
import { RevisionRecord } from '../../../src/modules/revision/revision-record.js';
import { packageRoot } from '../../../src/package-root.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('revisions', () => {
  it('should read digits, safe integers and leading zeros as canonical decimal strings', () => {
    expect(parseRevision('42')).toBe('42');
    expect(parseRevision('0042')).toBe('42');
    expect(parseRevision(0)).toBe('0');
    expect(parseRevision('9223372036854775807')).toBe('9223372036854775807');
  });

  it.each([
    -1,
    '-1',
    1.5,
    '1.5',
    '',
    ' 1',
    '1e3',
    'latest',
    2 ** 60,
    '9223372036854775808',
    null,
    true,
  ])('should refuse %j with BAD_USER_INPUT', (value) => {
    expect(() => parseRevision(value)).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/^Revision must be a non-negative whole number/),
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    );
  });

  it('should order revisions as numbers, beyond 2^53 too', () => {
    expect(compareRevisions('9', '10')).toBeLessThan(0);
    expect(compareRevisions('9007199254740993', '9007199254740992')).toBeGreaterThan(0);
    expect(compareRevisions('77', '77')).toBe(0);
  });

  it('should report the newer of what an operation saw and committed', () => {
    const record = new RevisionRecord('10');
    expect([record.seen, record.committed, record.latest]).toEqual(['10', null, '10']);

    record.commit('12');
    record.commit('11');
    record.saw('9');

    expect([record.seen, record.committed, record.latest]).toEqual(['10', '12', '12']);
    record.saw('13');
    expect(record.latest).toBe('13');
  });

  it('should make every change that records an audit event through runChange', () => {
    const src = join(packageRoot(), 'src');
    const offenders = sourceFiles(src)
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        return /\brecordChange\(/.test(text) && /\.transaction\(/.test(text);
      })
      .map((file) => relative(packageRoot(), file));

    // A change in a transaction of its own would commit without reporting its revision.
    expect(offenders).toEqual([]);
  });
});

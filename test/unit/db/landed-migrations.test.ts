import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/package-root.js';

const dir = join(packageRoot(), 'drizzle');

function sealed(): Map<string, string> {
  const lines = readFileSync(join(dir, 'landed.sha256'), 'utf8').split('\n').filter(Boolean);
  return new Map(
    lines.map((line) => {
      const [hash, file] = line.split(/\s+/);
      return [file as string, hash as string];
    }),
  );
}

describe('landed migrations', () => {
  it('should never change a migration once it has landed (drizzle/landed.sha256)', () => {
    const changed = [...sealed()]
      .filter(([file, hash]) => {
        const now = createHash('sha256')
          .update(readFileSync(join(dir, file)))
          .digest('hex');
        return now !== hash;
      })
      .map(([file]) => file);
    expect(changed, 'changed after landing: write a new migration instead').toEqual([]);
  });

  it('should seal every migration it ships (npm run db:seal)', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
    const unsealed = files.filter((f) => !sealed().has(f));
    expect(unsealed, 'not in drizzle/landed.sha256: run npm run db:seal').toEqual([]);
  });

  it('should list in the journal exactly the migrations it ships', () => {
    const journal = JSON.parse(readFileSync(join(dir, 'meta', '_journal.json'), 'utf8')) as {
      entries: { tag: string }[];
    };
    const tags = journal.entries.map((e) => `${e.tag}.sql`).sort();
    expect(tags).toEqual(
      readdirSync(dir)
        .filter((f) => f.endsWith('.sql'))
        .sort(),
    );
  });
});

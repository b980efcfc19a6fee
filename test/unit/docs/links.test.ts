import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/package-root.js';
import {
  type DocLink,
  documentationFiles,
  type MarkdownDoc,
  readMarkdownDoc,
} from '../../fixtures/markdown-docs.js';

const root = packageRoot();
const docs = new Map<string, MarkdownDoc>(
  documentationFiles().map((file) => [file, readMarkdownDoc(file)]),
);

/** Why a relative link does not resolve, or null when it does (external links are not followed). */
function brokenReason(link: DocLink): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.href)) return null;
  const [path = '', anchor] = link.href.split('#', 2);
  const target = path === '' ? link.file : normalize(join(dirname(link.file), decodeURI(path)));
  if (target.startsWith('..')) return `${target} is outside the repository`;
  if (!existsSync(join(root, target))) return `${target} does not exist`;
  if (anchor === undefined || anchor === '') return null;
  if (statSync(join(root, target)).isDirectory() || !target.endsWith('.md')) return null;
  const doc = docs.get(target) ?? readMarkdownDoc(target);
  return doc.anchors.has(`#${anchor}`) ? null : `${target} has no heading #${anchor}`;
}

describe('links in the documentation', () => {
  it('should read every document under docs/ and the README', () => {
    expect([...docs.keys()]).toContain('README.md');
    expect([...docs.keys()]).toContain('docs/README.md');
  });

  it('should resolve every relative link to a file, and every anchor to a heading', () => {
    const broken = [...docs.values()]
      .flatMap((doc) => doc.links)
      .map((link) => ({ link, reason: brokenReason(link) }))
      .filter(({ reason }) => reason !== null)
      .map(({ link, reason }) => `${link.file}:${link.line} ${link.href}: ${reason}`);
    expect(broken).toEqual([]);
  });

  it('should link every document from the index, docs/README.md', () => {
    const index = docs.get('docs/README.md');
    const linked = new Set(
      (index?.links ?? [])
        .filter((link) => !/^[a-z][a-z0-9+.-]*:/i.test(link.href))
        .map((link) => normalize(join('docs', link.href.split('#')[0] ?? ''))),
    );
    const unlisted = [...docs.keys()].filter(
      (file) => file.startsWith('docs/') && file !== 'docs/README.md' && !linked.has(file),
    );
    expect(unlisted).toEqual([]);
  });
});

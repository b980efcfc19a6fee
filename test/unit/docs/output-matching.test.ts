import { describe, expect, it } from 'vitest';
import { outputMatches } from '../../fixtures/markdown-docs.js';

describe("the doc-test runner's output matching", () => {
  it('should accept output equal to what the document shows, trailing blanks aside', () => {
    expect(
      outputMatches('{"data":{"me":{"name":"a"}}}  \n\n', '{"data":{"me":{"name":"a"}}}'),
    ).toBe(true);
  });

  it('should let … stand for any text, line breaks included', () => {
    expect(outputMatches('{"id":"284dc543-56e9","name":"a"}', '{"id":"…","name":"a"}')).toBe(true);
    expect(outputMatches('first\nmiddle\nlast', 'first\n…\nlast')).toBe(true);
  });

  it('should refuse output that differs outside the wildcards', () => {
    expect(outputMatches('{"id":"1","name":"b"}', '{"id":"…","name":"a"}')).toBe(false);
    expect(outputMatches('{"allowed":true}', '{"allowed":false}')).toBe(false);
    expect(outputMatches('', '{"allowed":false}')).toBe(false);
  });

  it('should read regular-expression characters in the shown output literally', () => {
    expect(outputMatches('a+b (c)', 'a+b (c)')).toBe(true);
    expect(outputMatches('aab (c)', 'a+b (c)')).toBe(false);
  });
});

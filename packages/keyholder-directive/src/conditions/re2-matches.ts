import { RE2JS } from 're2js';

/** The longest pattern a condition may match with. */
export const MAX_PATTERN_LENGTH = 500;
const MAX_CACHED = 1_000;
const compiled = new Map<string, RE2JS>();

/**
 * The pattern compiled as RE2 (what CEL's `matches` is specified with): linear-time matching, so
 * no input can make a pattern backtrack exponentially. Throws with a sentence when RE2 refuses
 * it (lookarounds, backreferences, malformed) or it is longer than `MAX_PATTERN_LENGTH`.
 */
export function re2Pattern(pattern: string): RE2JS {
  const known = compiled.get(pattern);
  if (known !== undefined) return known;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`the pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (error) {
    throw new Error(
      `"${pattern}" is not an RE2 regular expression (${error instanceof Error ? error.message : 'invalid'})`,
    );
  }
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

/** CEL's `text.matches(pattern)`: whether the RE2 `pattern` matches anywhere in `text`. */
export function re2Matches(text: string, pattern: string): boolean {
  return re2Pattern(pattern).matcher(text).find();
}

import { type Filter, parse } from 'scim2-parse-filter';
import { invalidFilter } from './scim-error.js';

/** A filter Keyholder answers: one attribute equal to one string. */
export interface EqualityFilter<A extends string> {
  readonly attribute: A;
  readonly value: string;
}

/**
 * Parses a SCIM `filter` (RFC 7644 §3.4.2.2) with scim2-parse-filter and accepts what identity
 * providers send to find a resource: `<attribute> eq "<value>"`, the attribute one of
 * `attributes` (compared case-insensitively, as SCIM attribute names are). `null` without a
 * filter; anything else is 400 `invalidFilter` naming what is supported.
 */
export function parseEqualityFilter<A extends string>(
  raw: string | null,
  attributes: readonly A[],
): EqualityFilter<A> | null {
  if (raw === null) return null;
  const supported = `Keyholder supports filters of the form ${attributes.map((a) => `${a} eq "…"`).join(', ')}.`;
  let parsed: Filter;
  try {
    parsed = parse(raw);
  } catch {
    throw invalidFilter(
      `The filter ${JSON.stringify(raw.slice(0, 200))} is not valid SCIM. ${supported}`,
    );
  }
  if (parsed.op !== 'eq' || !('compValue' in parsed)) {
    throw invalidFilter(`The filter operator "${parsed.op}" is not supported. ${supported}`);
  }
  const attribute = attributes.find((a) => a.toLowerCase() === parsed.attrPath.toLowerCase());
  if (attribute === undefined) {
    throw invalidFilter(`Filtering on "${parsed.attrPath}" is not supported. ${supported}`);
  }
  if (typeof parsed.compValue !== 'string') {
    throw invalidFilter(`The filter on "${attribute}" must compare with a string. ${supported}`);
  }
  return { attribute, value: parsed.compValue };
}

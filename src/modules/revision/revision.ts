import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * A revision of Keyholder's state, in canonical decimal form (no sign, no leading zeros). Every
 * change advances it; revisions are PostgreSQL bigints, so they travel as strings (JavaScript
 * numbers are exact only up to 2^53, GraphQL `Int` only up to 2^31).
 */
export type Revision = string;

/** Reads `revision_head`: the newest committed revision (one row). */
export const HEAD_SQL = 'select value::text from revision_head';

/** The largest revision PostgreSQL can issue (bigint). */
const MAX_REVISION = 9_223_372_036_854_775_807n;
const DIGITS = /^\d{1,19}$/;

function invalid(value: unknown): GraphQLError {
  return new GraphQLError(
    `Revision must be a non-negative whole number, as a string of digits like "42"; got ${JSON.stringify(value)}.`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

/** Reads a client's revision (a string of digits, or a non-negative safe integer), canonical. */
export function parseRevision(value: unknown): Revision {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw invalid(value);
    return String(value);
  }
  if (typeof value !== 'string' || !DIGITS.test(value)) throw invalid(value);
  const revision = BigInt(value);
  if (revision > MAX_REVISION) throw invalid(value);
  return revision.toString();
}

/** Orders two canonical revisions: negative when `a` is older, 0 when equal, positive when newer. */
export function compareRevisions(a: Revision, b: Revision): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `Revision`: a string of digits out; a string of digits or a non-negative `Int` in. */
export const RevisionScalar = new GraphQLScalarType<Revision, string>({
  name: 'Revision',
  serialize(value) {
    if (typeof value === 'string' && DIGITS.test(value)) return value;
    throw new TypeError(`Revision cannot represent ${JSON.stringify(value)}.`);
  },
  parseValue: parseRevision,
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING) return parseRevision(ast.value);
    if (ast.kind === Kind.INT) return parseRevision(Number(ast.value));
    throw invalid(ast.kind === Kind.VARIABLE ? `$${ast.name.value}` : ast.kind);
  },
});

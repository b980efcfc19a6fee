import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value)) {
    throw new GraphQLError(
      `DateTime must be an ISO 8601 string with a time zone, like 2026-11-28T09:00:00Z; got ${JSON.stringify(value)}.`,
      {
        extensions: { code: 'BAD_USER_INPUT' },
      },
    );
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || !isCalendarInstant(value)) {
    throw new GraphQLError(`DateTime "${value}" is not a real instant.`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return date;
}

/**
 * Whether the date and time written exist: JavaScript rolls 2026-02-30 over to March 2nd and 24:00
 * to the next day, which would store an instant nobody wrote.
 */
function isCalendarInstant(value: string): boolean {
  const [year, month, day, hour, minute, second] = value
    .slice(0, 19)
    .split(/[-T:]/)
    .map((part) => Number(part));
  if (year === undefined || month === undefined || day === undefined) return false;
  const start = new Date(Date.UTC(year, month - 1, day));
  return (
    start.getUTCMonth() === month - 1 &&
    start.getUTCDate() === day &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second === undefined || Number.isNaN(second) || second <= 59)
  );
}

/** ISO 8601 instants in, `Date` inside, ISO 8601 UTC out. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime()))
      throw new TypeError('DateTime cannot represent an invalid date.');
    return date.toISOString();
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('DateTime must be given as a string.', {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return parse(ast.value);
  },
});

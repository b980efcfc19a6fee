import { type DestinationStream, type Logger, pino } from 'pino';

/** `LOG_LEVEL` values, most verbose first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the code base reports what an operator should see: a sentence, and the error if any. */
export type LogFunction = (message: string, error?: unknown) => void;

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** The lowest level written; `silent` writes nothing (tests). @default 'info' */
  readonly level?: LogLevel | 'silent';
  /** Where JSON lines go. @default stdout */
  readonly destination?: DestinationStream;
}

/**
 * Paths never written, whatever a caller passes: credentials in headers, keys, tokens, and the
 * parameters a database error may carry.
 */
const REDACTED = [
  'authorization',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiKey',
  'err.parameters',
  'err.query',
];

/**
 * Keyholder's logger: pino, one JSON object per line (`level` as a name, `time` in ISO 8601,
 * `msg`), errors serialized by pino's `err` serializer, credentials redacted.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'keyholder' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * The `log(message, error?)` every component is given, writing to `logger`: with an error at
 * `error` level (serialized as `err`), without one at `warn` (it is still something to look at).
 */
export function logFunction(logger: Logger): LogFunction {
  return (message, error) => {
    if (error === undefined) logger.warn(message);
    else logger.error({ err: error }, message);
  };
}

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
  /** Where JSON lines go. @default stdout, as `bufferMs` says */
  readonly destination?: DestinationStream;
  /**
   * Writing to stdout: 0 writes each line as it is made; more gathers lines up to
   * `BUFFERED_LOG_BYTES` and writes them at least every `bufferMs` milliseconds, and on exit
   * (pino flushes a buffered destination when the process exits, a crash included). @default 0
   */
  readonly bufferMs?: number;
}

/** How many bytes of lines a buffered logger gathers before it writes them. */
export const BUFFERED_LOG_BYTES = 8192;

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
    options.destination ?? stdout(options.bufferMs ?? 0),
  );
}

function stdout(bufferMs: number): DestinationStream {
  if (bufferMs === 0) return pino.destination({ dest: 1, sync: true });
  const destination = pino.destination({ dest: 1, sync: false, minLength: BUFFERED_LOG_BYTES });
  // Lines shorter than the buffer in all are written by time; the timer never keeps Node alive.
  // A failed or refused flush (the stream closed at stop) leaves nothing to do: it is not retried.
  setInterval(() => destination.flush(() => {}), bufferMs).unref();
  return destination;
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

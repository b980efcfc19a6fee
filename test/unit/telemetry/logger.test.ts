import { describe, expect, it } from 'vitest';
import { readConfig } from '../../../src/config.js';
import { logFunction } from '../../../src/telemetry/logger.js';
import { capturedLogs } from '../../fixtures/log-lines.js';

describe('the JSON logger', () => {
  it('should write an error with its level, message and serialized error', () => {
    const logs = capturedLogs();

    logFunction(logs.logger)('Could not flush API key usage', new Error('connection reset'));

    expect(logs.lines()).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'Could not flush API key usage',
        err: expect.objectContaining({
          type: 'Error',
          message: 'connection reset',
          stack: expect.any(String),
        }),
      }),
    ]);
  });

  it('should write a message without an error at warn', () => {
    const logs = capturedLogs();

    logFunction(logs.logger)('Webhook 1 paused: its owner lost webhooks:write');

    expect(logs.lines()).toEqual([expect.objectContaining({ level: 'warn' })]);
  });

  it('should redact credentials whatever object carries them', () => {
    const logs = capturedLogs();

    logs.logger.info(
      { headers: { authorization: 'Bearer kh_secret', cookie: 'sid=1' }, secret: 'kh_secret' },
      'request',
    );

    expect(logs.text()).not.toContain('kh_secret');
    expect(logs.text()).not.toContain('sid=1');
  });

  it('should write nothing below its level', () => {
    const logs = capturedLogs('warn');

    logs.logger.info('an info line');
    logs.logger.debug('a debug line');

    expect(logs.lines()).toEqual([]);
  });
});

describe('LOG_LEVEL and OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('should default to info and no tracing', () => {
    expect(readConfig({})).toMatchObject({ logLevel: 'info', otlpEndpoint: null });
  });

  it('should read a level and an endpoint', () => {
    expect(
      readConfig({ LOG_LEVEL: 'debug', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    ).toMatchObject({ logLevel: 'debug', otlpEndpoint: 'http://collector:4318' });
  });

  it('should refuse an unknown level and an endpoint that is not an HTTP URL', () => {
    expect(() => readConfig({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL must be one of trace, debug, info, warn, error; got "verbose".',
    );
    expect(() => readConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be an http/,
    );
  });
});

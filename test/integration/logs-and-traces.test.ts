import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingOn } from '../../src/telemetry/tracing.js';
import { engines } from '../fixtures/engines.js';
import { dataOf, readResponse } from '../fixtures/gql.js';
import { type CapturedLogs, capturedLogs, type LogLine } from '../fixtures/log-lines.js';
import { attributeOf, type OtlpCollector, startOtlpCollector } from '../fixtures/otlp-collector.js';
import { unique } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const DRIZZLE_TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4737';

/** POSTs one operation to `server` as its admin, with `headers` added. */
async function post(
  server: TestServer,
  query: string,
  headers: Record<string, string> = {},
  variables?: Record<string, unknown>,
) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${server.adminKey}`,
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return readResponse(response);
}

/** The access line of the request whose id is `requestId`. */
function accessLine(logs: CapturedLogs, requestId: string): LogLine | undefined {
  return logs.lines().find((line) => line.msg === 'request' && line.requestId === requestId);
}

describe.each(engines())('logs and request ids on %s', (engine) => {
  let server: TestServer;
  let logs: CapturedLogs;

  beforeAll(async () => {
    logs = capturedLogs('info');
    server = await startTestServer(engine, { metricsPort: null, logger: logs.logger });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should write one JSON access line per request with level, request id, route, status and duration', async () => {
    const requestId = unique('req');
    const response = await post(server, '{ me { id } }', { 'x-request-id': requestId });

    expect(response.status).toBe(200);
    expect(accessLine(logs, requestId)).toMatchObject({
      level: 'info',
      service: 'keyholder',
      requestId,
      method: 'POST',
      route: '/graphql',
      status: 200,
      durationMs: expect.any(Number),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(logs.lines().filter((line) => line.requestId === requestId)).toHaveLength(1);
  });

  it('should keep and echo a safe incoming x-request-id', async () => {
    const requestId = `${unique('client')}:trace/1`;

    const response = await post(server, '{ me { id } }', { 'x-request-id': requestId });

    expect(response.headers.get('x-request-id')).toBe(requestId);
  });

  it('should replace an unsafe or overlong x-request-id with a fresh one', async () => {
    for (const given of ['has spaces in it', 'x'.repeat(129), 'quote"d']) {
      const response = await post(server, '{ me { id } }', { 'x-request-id': given });

      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('should record the incoming x-request-id in the audit event of a change', async () => {
    const requestId = unique('audit');

    const response = await post(
      server,
      'mutation($input: CreateIdentityInput!) { createIdentity(input: $input) { id } }',
      { 'x-request-id': requestId },
      { input: { name: unique('identity'), kind: 'SERVICE' } },
    );
    const { createIdentity } = dataOf(response) as { createIdentity: { id: string } };
    const rows = await server.database.query<{ request_id: string }>(
      `select details->'request'->>'requestId' as request_id from audit_events
        where action = 'identity.created' and subject_id = $1`,
      [createIdentity.id],
    );

    expect(rows).toEqual([{ request_id: requestId }]);
  });

  it('should log an incoming W3C traceparent on the access line', async () => {
    const requestId = unique('traced');

    await post(server, '{ me { id } }', { 'x-request-id': requestId, traceparent: TRACEPARENT });

    expect(accessLine(logs, requestId)?.traceparent).toBe(TRACEPARENT);
  });

  it('should never log the bearer credential nor the query string', async () => {
    const requestId = unique('secret');
    await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ me { id } }')}&token=abc`, {
      headers: { authorization: `Bearer ${server.adminKey}`, 'x-request-id': requestId },
    });

    expect(accessLine(logs, requestId)).toMatchObject({ method: 'GET', route: '/graphql' });
    expect(logs.text()).not.toContain(server.adminKey);
    expect(logs.text()).not.toContain('token=abc');
  });
});

describe.each(engines())('traces on %s', (engine) => {
  let collector: OtlpCollector;

  beforeAll(async () => {
    collector = await startOtlpCollector();
  });

  afterAll(async () => {
    await collector?.stop();
  });

  it('should start no SDK and keep the no-op tracer without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const server = await startTestServer(engine, { metricsPort: null });
    try {
      await post(server, '{ me { id } }');

      expect(tracingOn()).toBe(false);
      expect(trace.getTracer('spec').startSpan('probe').isRecording()).toBe(false);
    } finally {
      await server.stop();
    }
    expect(collector.posts()).toBe(0);
  });

  it('should export spans of the request, authentication, root field and decision over OTLP/HTTP', async () => {
    const server = await startTestServer(engine, {
      metricsPort: null,
      otlpEndpoint: collector.url,
    });
    try {
      const response = await post(server, '{ me { id } }', { traceparent: TRACEPARENT });
      expect(response.status).toBe(200);
    } finally {
      // Stopping flushes the batch of spans not yet exported.
      await server.stop();
    }
    expect(tracingOn()).toBe(false);

    const ours = collector.spans().filter((span) => span.traceId === TRACE_ID);
    // An authentication-cache hit sends no statement since pushed invalidation: statements'
    // spans are the next spec's subject.
    const names = new Set(
      ours.map((span) => span.name).filter((name) => name !== 'keyholder.db.query'),
    );
    expect(names).toEqual(
      new Set([
        'POST /graphql',
        'keyholder.authenticate',
        'keyholder.resolve Query.me',
        'keyholder.decide',
      ]),
    );
    expect(collector.serviceName()).toBe('keyholder');
    const request = ours.find((span) => span.name === 'POST /graphql');
    expect(request?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(attributeOf(request as never, 'http.response.status_code')).toBe(200);
    const field = ours.find((span) => span.name === 'keyholder.resolve Query.me');
    const decide = ours.find((span) => span.name === 'keyholder.decide');
    expect(decide?.parentSpanId).toBe(field?.spanId);
    expect(attributeOf(decide as never, 'keyholder.decision')).toBe('allowed');
  });

  it("should trace drizzle's statements, in transactions too, with their text and no parameter values", async () => {
    const server = await startTestServer(engine, {
      metricsPort: null,
      otlpEndpoint: collector.url,
    });
    const name = unique('traced-secret-name');
    try {
      const response = await post(
        server,
        'mutation($name: String!) { createIdentity(input: { name: $name, kind: SERVICE }) { id } }',
        { traceparent: TRACEPARENT.replace(TRACE_ID, DRIZZLE_TRACE_ID) },
        { name },
      );
      expect(dataOf(response).createIdentity).toMatchObject({ id: expect.any(String) });
    } finally {
      await server.stop();
    }

    const statements = collector
      .spans()
      .filter((span) => span.traceId === DRIZZLE_TRACE_ID && span.name === 'keyholder.db.query');
    const texts = statements.map((span) => String(attributeOf(span as never, 'db.query.text')));
    expect(texts.some((text) => /^insert into "identities"/.test(text))).toBe(true);
    expect(JSON.stringify(collector.spans())).not.toContain(name);
  });
});

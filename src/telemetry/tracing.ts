import type { IncomingHttpHeaders } from 'node:http';
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { LogFunction } from './logger.js';

/**
 * Keyholder's tracer: the API's no-op one until `startTracing` starts an SDK, then that SDK's own
 * (the API's proxy would keep a stopped SDK's tracer after a restart in the same process).
 */
let current: Tracer = trace.getTracer('keyholder');

/** The tracer spans are made with (see `current`). */
export function tracer(): Tracer {
  return current;
}

/** Whether an SDK is recording (one per process); every span site checks it first. */
let recording = false;

/** `true` while `startTracing` has an exporter running: spans are worth building. */
export function tracingOn(): boolean {
  return recording;
}

/** Ends `span` with `error` recorded on it (status ERROR, an exception event). */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/**
 * Runs `work` inside a span named `name` (the active one while it runs, so database statements
 * nest under it) when tracing is on; otherwise runs it directly, with no span object at all.
 */
export function traced<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!recording) return work();
  return current.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs one database statement in a `keyholder.db.query` client span when tracing is on and the
 * statement belongs to a traced request (`db.system.name`, and `db.query.text`: the parameterized
 * text, never the parameters). Background jobs' statements, with no span around them, make none:
 * a poll every few hundred milliseconds would otherwise be a trace each.
 */
export function tracedStatement<T>(
  system: 'postgresql',
  text: string,
  run: () => Promise<T>,
): Promise<T> {
  if (!tracingStatements()) return run();
  return traced(
    'keyholder.db.query',
    { 'db.system.name': system, 'db.query.text': text.slice(0, 2000) },
    run,
    SpanKind.CLIENT,
  );
}

/** Whether a statement sent now gets a span (`tracedStatement`): tracing on, within a request's span. */
export function tracingStatements(): boolean {
  return recording && trace.getActiveSpan() !== undefined;
}

/** An HTTP request's server span, and how to run its handling inside it. */
export interface RequestSpan {
  readonly span: Span;
  run(serve: () => void): void;
}

/**
 * The server span of one HTTP request (`GET /graphql`, …), child of the caller's W3C
 * `traceparent` when it sent one; `null` when tracing is off (nothing is built).
 */
export function startRequestSpan(
  method: string,
  route: string,
  requestId: string,
  headers: IncomingHttpHeaders,
): RequestSpan | null {
  if (!recording) return null;
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = current.startSpan(
    `${method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'http.route': route,
        'keyholder.request_id': requestId,
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  return { span, run: (serve) => context.with(active, serve) };
}

/** Ends a request span with the response's status (5xx marks it failed). */
export function endRequestSpan(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** Options of `startTracing`. */
export interface TracingOptions {
  /**
   * `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL; spans are POSTed (OTLP/HTTP, JSON) to
   * `<endpoint>/v1/traces`.
   */
  readonly endpoint: string;
  readonly log: LogFunction;
}

/** A running tracing SDK. */
export interface Tracing {
  /** Flushes the spans not yet exported and unregisters the SDK (the API is no-op again). */
  stop(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK: a Node tracer provider (async-local context, W3C trace context
 * propagation) exporting in batches to `endpoint` over OTLP/HTTP. The resource is
 * `service.name=keyholder`, overridden by `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`; the
 * exporter also reads `OTEL_EXPORTER_OTLP_HEADERS` and the `OTEL_BSP_*` batch settings. The SDK is imported here only,
 * so a process without an endpoint never loads it and keeps the API's no-op tracer.
 * Returns `null` (and logs why) when another server in this process already traces.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing | null> {
  if (recording) {
    options.log('Tracing is already on in this process; this server shares its exporter');
    return null;
  }
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const exporter = new OTLPTraceExporter({
    url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces`,
  });
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const provider = new NodeTracerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'keyholder' }))
      .merge(detected),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  current = provider.getTracer('keyholder');
  recording = true;
  return {
    async stop() {
      recording = false;
      current = trace.getTracer('keyholder');
      try {
        await provider.shutdown();
      } catch (error) {
        options.log('Could not export the last spans', error);
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

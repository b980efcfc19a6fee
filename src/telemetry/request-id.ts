import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An incoming `x-request-id` kept as the request's id: safe characters, at most 128. */
const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
/** W3C Trace Context `traceparent`, version 00 (and later versions' leading fields). */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;

const ids = new WeakMap<IncomingMessage, string>();

/**
 * The request's id: its `x-request-id` when that is safe to echo and record (word characters and
 * `.:@/+=-`, at most 128), else a random UUID. The same value for every call on one request.
 */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const given = req.headers['x-request-id'];
    id = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    ids.set(req, id);
  }
  return id;
}

/** The request's W3C `traceparent` when well-formed, else `undefined`. */
export function traceparentOf(req: IncomingMessage): string | undefined {
  const given = req.headers.traceparent;
  return typeof given === 'string' && given.length <= 512 && TRACEPARENT.test(given)
    ? given
    : undefined;
}

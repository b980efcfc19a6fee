import type { ServerResponse } from 'node:http';

/** Answers with `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** Answers with one error the way `/graphql` does: `{ errors: [{ message, extensions }] }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): void {
  sendJson(res, status, { errors: [{ message, extensions: { ...details, code } }] });
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import bodyParser from 'body-parser';

/** Why a body was not read: the HTTP status to answer with and a sentence naming the problem. */
export interface BodyRefusal {
  readonly status: number;
  readonly message: string;
}

/** A request body read as JSON (`undefined` when there is none or it is not JSON), or refused. */
export type BodyRead = { readonly body: unknown } | { readonly refusal: BodyRefusal };

/**
 * Reads request bodies with body-parser's JSON reader, as Apollo's standalone server does: at most
 * `maxBodyBytes`, UTF-8, any Content-Encoding body-parser inflates; a body whose Content-Type is
 * not JSON is left unread (`body: undefined`), for Apollo to refuse.
 * - too large: 413; not valid JSON, shorter or longer than its Content-Length, or cut off: 400;
 *   another charset or an unknown Content-Encoding: 415 — each with a sentence;
 * - anything else body-parser fails with is rethrown (an internal error, not the client's).
 */
export function jsonBodyReader(
  maxBodyBytes: number,
  /** The JSON content types read. @default ['application/json'] */
  contentTypes: readonly string[] = ['application/json'],
): (req: IncomingMessage, res: ServerResponse) => Promise<BodyRead> {
  const parseJson = bodyParser.json({ limit: maxBodyBytes, type: [...contentTypes] });
  return (req, res) =>
    new Promise<BodyRead>((resolve, reject) => {
      parseJson(req, res, (error?: unknown) => {
        if (error === undefined || error === null) {
          resolve({ body: (req as { body?: unknown }).body });
          return;
        }
        const refusal = bodyRefusal(error, maxBodyBytes);
        if (refusal === null) reject(error);
        else resolve({ refusal });
      });
    });
}

/** A body-parser error as the client's refusal; `null` when it is not one. */
function bodyRefusal(error: unknown, maxBodyBytes: number): BodyRefusal | null {
  const { type, charset, encoding } = error as {
    type?: string;
    charset?: string;
    encoding?: string;
  };
  switch (type) {
    case 'entity.too.large':
      return {
        status: 413,
        message: `The request body is larger than the ${maxBodyBytes} bytes allowed.`,
      };
    case 'entity.parse.failed':
      return { status: 400, message: 'The request body is not valid JSON.' };
    case 'charset.unsupported':
      return {
        status: 415,
        message: `The request body's charset "${charset ?? ''}" is not supported; send UTF-8.`,
      };
    case 'encoding.unsupported':
      return {
        status: 415,
        message: `The request body's Content-Encoding "${encoding ?? ''}" is not supported.`,
      };
    case 'request.size.invalid':
      return { status: 400, message: 'The request body does not match its Content-Length.' };
    case 'request.aborted':
      return { status: 400, message: 'The request body was not sent completely.' };
    default:
      return null;
  }
}

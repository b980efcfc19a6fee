import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../context/services.js';
import type { Database } from '../db/client.js';
import type { KeyUsageRecorder } from '../modules/keys/key-usage-recorder.js';
import type { AuthenticateBearer } from '../modules/tokens/bearer-authenticator.js';
import type { DecisionCounts } from './decision-tally.js';
import type { BodyRead } from './read-json-body.js';

/** What an HTTP API beside `/graphql` (AuthZEN, SCIM) is given by the server it is mounted on. */
export interface EndpointOptions {
  readonly database: Database;
  readonly services: Services;
  /** Where decisions are counted for `/metrics`; absent counts nothing. */
  readonly decisionCounts?: DecisionCounts;
  /** The server's one bearer authenticator (cached, traced, refusals recorded). */
  readonly authenticate: AuthenticateBearer;
  readonly keyUsage: KeyUsageRecorder;
  /** Reads the request's JSON body within the server's size limit. */
  readonly readBody: (req: IncomingMessage, res: ServerResponse) => Promise<BodyRead>;
  readonly log: (message: string, error?: unknown) => void;
}

/** `<scheme>://<host>` as the client reached the server (`https` behind a proxy that says so). */
export function originOf(req: IncomingMessage): string {
  const scheme = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}`;
}

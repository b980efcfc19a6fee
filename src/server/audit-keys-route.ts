import type { IncomingMessage, ServerResponse } from 'node:http';
import { auditKeys } from '../modules/audit/audit-chain.js';
import { sendError, sendJson } from './send-json.js';

/** Where the audit checkpoints' public signing keys are published (no credentials needed). */
export const AUDIT_KEYS_PATH = '/.well-known/keyholder-audit-keys';

/**
 * `GET /.well-known/keyholder-audit-keys`: the Ed25519 public keys that sign audit checkpoints,
 * as a JWK Set (RFC 7517, RFC 8037), current key first, then retired ones still configured. A
 * checkpoint's `keyId` is its key's `kid` (the JWK thumbprint, RFC 7638). Public by design: an
 * auditor verifies checkpoint files with these and nothing else.
 */
export async function serveAuditKeys(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, 'METHOD_NOT_ALLOWED', `${AUDIT_KEYS_PATH} answers GET only.`);
    return;
  }
  res.setHeader('cache-control', 'public, max-age=300');
  sendJson(res, 200, auditKeys().jwks());
}

import type { Caller } from '../keys/authentication.js';
import type { AccessEvent } from './access-log.js';
import type { AccessRecord } from './access-record.js';
import { ACCESS_ACTIONS } from './audit-actions.js';

/** The operation an access event describes. */
export interface AccessedOperation {
  readonly name: string | null;
  readonly type: string | null;
  /** SHA-256 (hex) of the document text, so identical operations can be grouped. */
  readonly documentHash: string | null;
  readonly transport: 'http' | 'ws';
}

/**
 * Turns an operation's recorded decisions into its access event: `access.denied` when any field
 * was denied, else `access.allowed`. Takes the decisions out of `record` (`deniedOnly`: records
 * the denials alone, as when a subscription is ended by one). `sensitive` flags an operation that
 * concerned a sensitive scope (`details.sensitive: true`).
 */
export function accessEventOf(
  caller: Caller,
  record: AccessRecord,
  operation: AccessedOperation,
  durationMs: number,
  deniedOnly = false,
  sensitive = false,
): AccessEvent {
  const { allowed, denied, scopes, conditions } = record.take(deniedOnly);
  return {
    action: denied.length > 0 ? ACCESS_ACTIONS.DENIED : ACCESS_ACTIONS.ALLOWED,
    actorId: caller.identity.id,
    details: {
      operation,
      allowed,
      denied,
      scopes,
      ...(conditions.length > 0 ? { conditions } : {}),
      durationMs: Math.round(durationMs * 100) / 100,
      keyId: caller.keyId,
      ...(caller.token
        ? { token: { issuer: caller.token.issuer, subject: caller.token.subject } }
        : {}),
      ...(caller.request ? { request: caller.request } : {}),
      ...(sensitive ? { sensitive: true } : {}),
    },
  };
}

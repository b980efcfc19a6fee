import type { SensitiveScopes } from '../scopes/sensitive-scopes.js';
import type { AccessRecord } from './access-record.js';

/** Which access events are written. */
export interface AccessLogMode {
  /** `ACCESS_LOG=on`: every operation's. Off: only those that concern a sensitive scope. */
  readonly all: boolean;
  readonly sensitive: SensitiveScopes;
}

/**
 * Whether the operation behind `record` gets an access event, and whether it is flagged
 * `sensitive`: always when it concerned a sensitive scope, otherwise only when logging everything.
 */
export function accessEventDue(
  mode: AccessLogMode,
  record: AccessRecord | undefined,
): { readonly write: boolean; readonly sensitive: boolean } {
  if (record === undefined || record.isEmpty) return { write: false, sensitive: false };
  const sensitive = record.touchesAny(mode.sensitive.names);
  return { write: mode.all || sensitive, sensitive };
}

/** Whether an operation starting now needs an access record at all. */
export function recordsAccess(mode: AccessLogMode): boolean {
  return mode.all || mode.sensitive.names.size > 0;
}

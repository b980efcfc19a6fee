/** The three actions a scope can name. None implies another. */
export const SCOPE_ACTIONS = ['read', 'write', 'execute'] as const;
export type ScopeAction = (typeof SCOPE_ACTIONS)[number];

export interface ScopeName {
  readonly name: string;
  readonly resource: string;
  readonly action: ScopeAction;
}

const SCOPE_PATTERN = /^([a-z][a-z0-9._/-]*):(read|write|execute)$/;
const MAX_SCOPE_LENGTH = 200;

/**
 * Parses `<resource>:<action>`.
 * - Returns the parts when the name is well formed.
 * - Returns `null` for anything else (wrong action, capitals, spaces, empty resource, too long).
 */
export function parseScopeName(name: string): ScopeName | null {
  if (name.length > MAX_SCOPE_LENGTH) return null;
  const match = SCOPE_PATTERN.exec(name);
  if (match === null) return null;
  return { name, resource: match[1] as string, action: match[2] as ScopeAction };
}

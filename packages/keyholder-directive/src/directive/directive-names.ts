/** The names the directives go by in a schema. */
export interface DirectiveNames {
  readonly requires: string;
  readonly authenticated: string;
  /** Apollo Router's spelling, accepted as an alternative to `requires`. */
  readonly requiresScopes: string;
}

/** Fills in the default names: `requires`, `authenticated`, `requiresScopes`. */
export function directiveNames(names?: {
  requires?: string;
  authenticated?: string;
  requiresScopes?: string;
}): DirectiveNames {
  return {
    requires: names?.requires ?? 'requires',
    authenticated: names?.authenticated ?? 'authenticated',
    requiresScopes: names?.requiresScopes ?? 'requiresScopes',
  };
}

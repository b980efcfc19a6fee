/** The rules `lintSchema` applies. */
export type LintRule =
  | 'unguarded-field'
  | 'weaker-than-interface'
  | 'non-null-guarded-field'
  | 'malformed-scope'
  | 'unknown-scope'
  | 'invalid-requirement';

/** Where something is in the SDL: the file (or source name), 1-based line and column. */
export interface SdlLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One thing the lint found. */
export interface Finding {
  readonly rule: LintRule;
  /** `Type.field`, or `Type` for a type-level declaration. */
  readonly coordinate: string;
  /** A sentence naming the thing and what to do. */
  readonly message: string;
  /** Absent for schemas built in code, without SDL locations. */
  readonly location?: SdlLocation;
}

import type { GraphQLSchema, Source } from 'graphql';
import { type DirectiveNames, directiveNames } from '../directive/directive-names.js';
import type { Finding } from './finding.js';
import { loadLintSchema } from './load-sdl.js';
import { declarationSites } from './rules/declaration-sites.js';
import { nonNullGuardedFields } from './rules/non-null-guarded.js';
import { scopeRules } from './rules/scope-rules.js';
import { unguardedFields } from './rules/unguarded-fields.js';
import { weakerThanInterface } from './rules/weaker-than-interface.js';

/** Options of `lintSchema`. */
export interface LintOptions {
  /**
   * The scope names that exist (Keyholder's `scopes`, your catalogue).
   * - Given: a well-formed scope name not in it is an `unknown-scope` finding.
   * - Absent: only malformed names (not `<resource>:<action>`) are reported.
   */
  knownScopes?: readonly string[];
  /** `Type.field` coordinates that are public on purpose: no `unguarded-field` for them. @default [] */
  allowUnguarded?: readonly string[];
  /**
   * `Type.field` coordinates that can never be denied in practice though the rule cannot tell
   * (Keyholder's `Query.me` returns the caller, whom self access always allows): no
   * `non-null-guarded-field` for them. @default []
   */
  allowNonNull?: readonly string[];
  /** Directive names, as given to `requiresDirective`. @default { requires: 'requires', authenticated: 'authenticated', requiresScopes: 'requiresScopes' } */
  names?: Partial<DirectiveNames>;
}

/** SDL (one text, or several files as `Source`s named after them) or a built schema. */
export type LintInput = string | Source | readonly (string | Source)[] | GraphQLSchema;

function isSchema(input: LintInput): input is GraphQLSchema {
  return typeof input === 'object' && 'getTypeMap' in input;
}

function byPlace(a: Finding, b: Finding): number {
  const fa = a.location?.file ?? '\uffff';
  const fb = b.location?.file ?? '\uffff';
  if (fa !== fb) return fa < fb ? -1 : 1;
  const la = a.location?.line ?? 0;
  const lb = b.location?.line ?? 0;
  if (la !== lb) return la - lb;
  const ca = a.location?.column ?? 0;
  const cb = b.location?.column ?? 0;
  if (ca !== cb) return ca - cb;
  if (a.coordinate !== b.coordinate) return a.coordinate < b.coordinate ? -1 : 1;
  return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0;
}

/**
 * Lints a schema's authorization coverage. Rules:
 * - `unguarded-field`: an object field reachable without passing any requirement, with none itself;
 * - `weaker-than-interface`: an object field declaring less than the interface field it implements;
 * - `non-null-guarded-field`: a field (or list item) that can be denied on its own, declared
 *   non-null, so a denial would null its parent instead of only itself;
 * - `malformed-scope`: a scope name that is not `<resource>:<action>`;
 * - `unknown-scope`: a well-formed scope name not in `knownScopes` (only when that is given);
 * - `invalid-requirement`: a declaration the transformer would refuse (no scope, a bad path).
 *
 * SDL need not declare `@requires`, `@authenticated`, `@requiresScopes` or federation's
 * directives. Throws `SchemaLoadError` when the SDL cannot be parsed or built. Findings are
 * ordered by file and line.
 */
export function lintSchema(input: LintInput, options: LintOptions = {}): Finding[] {
  const names = directiveNames(options.names);
  const schema = isSchema(input)
    ? input
    : loadLintSchema(Array.isArray(input) ? input : [input as string | Source], names);
  const known = options.knownScopes === undefined ? null : new Set(options.knownScopes);
  return [
    ...scopeRules(schema, declarationSites(schema), names, known),
    ...weakerThanInterface(schema, names),
    ...nonNullGuardedFields(schema, names).filter(
      (f) => !(options.allowNonNull ?? []).includes(f.coordinate),
    ),
    ...unguardedFields(schema, names, new Set(options.allowUnguarded ?? [])),
  ].sort(byPlace);
}

export { type GrantGate, type GrantLike, GrantSet } from './authz/grant-set.js';
export { parseScopeName, SCOPE_ACTIONS, type ScopeName } from './authz/scope-name.js';
export {
  ConditionProblem,
  compileCondition,
  MAX_CONDITION_LENGTH,
} from './conditions/compile-condition.js';
export type { ConditionContext, RequestConditions } from './conditions/condition-context.js';
export {
  type ConditionContextInput,
  conditionContextOf,
} from './conditions/condition-context-of.js';
export type { ConditionOutcome, ConditionSource } from './conditions/condition-outcome.js';
export {
  type ConditionalGrant,
  type ConditionSink,
  GrantConditions,
} from './conditions/grant-conditions.js';
export { type UsageCounts, UsageWindows } from './conditions/usage-windows.js';
export { assertRootFieldsGuarded } from './directive/assert-root-fields-guarded.js';
export { InvalidRequirementError } from './directive/collect-requirements.js';
export type { RequiresCompatOptions } from './directive/compat-options.js';
export type { DecisionRecorder } from './directive/decision-recorder.js';
export type { RequiresDirectiveOptions } from './directive/options.js';
export { type RequiresDirective, requiresDirective } from './directive/requires-directive.js';
export { requiresScopesTypeDefs, requiresTypeDefs } from './directive/type-defs.js';
export { DomainError, ErrorCode } from './errors.js';
export type { Finding, LintRule, SdlLocation } from './lint/finding.js';
export { type LintInput, type LintOptions, lintSchema } from './lint/lint-schema.js';
export { SchemaLoadError } from './lint/load-sdl.js';
export type { RemoteGrant } from './remote/fetch-remote-caller.js';
export { type RemoteGrants, remoteGrants } from './remote/remote-grants.js';
export { RemoteGrantsError, type RemoteGrantsFailure } from './remote/remote-grants-error.js';
export type { RemoteGrantsOptions } from './remote/remote-grants-options.js';
export type { UsageReportOptions } from './remote/usage-reporter.js';

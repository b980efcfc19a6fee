export { type GrantLike, GrantSet, resourceCovers } from './authz/grant-set.js';
export { parseScopeName, SCOPE_ACTIONS, type ScopeName } from './authz/scope-name.js';
export { assertRootFieldsGuarded } from './directive/assert-root-fields-guarded.js';
export { InvalidRequirementError } from './directive/collect-requirements.js';
export type { DecisionRecorder } from './directive/decision-recorder.js';
export type { RequiresDirectiveOptions } from './directive/options.js';
export { type RequiresDirective, requiresDirective } from './directive/requires-directive.js';
export { requiresTypeDefs } from './directive/type-defs.js';
export { DomainError, ErrorCode } from './errors.js';

import { Environment } from '@marcbachmann/cel-js';
import { ipInCidr } from './cidr.js';
import { re2Matches } from './re2-matches.js';

/**
 * The function `compileCondition` evaluates CEL's `matches` with (RE2, linear time): the
 * library's own runs JavaScript's backtracking RegExp, which one crafted input can stall.
 */
export const RE2_MATCHES = 're2_matches';

// Structural limits checked when a condition is parsed; with at most one level of list macros
// (see `compileCondition`) and lists of at most `MAX_LIST_ELEMENTS`, they bound what one
// evaluation can cost.
const LIMITS = {
  maxAstNodes: 300,
  maxDepth: 24,
  maxListElements: 100,
  maxMapEntries: 50,
  maxCallArguments: 8,
};

/** What a grant or scope-policy condition may read; see `ConditionContext`. */
function grantConditions(): Environment {
  return new Environment({ limits: LIMITS })
    .registerVariable({
      name: 'request',
      schema: {
        ip: 'string',
        // The library reads a `timestamp` field of a schema as a message; this is its name for it.
        time: 'google.protobuf.Timestamp',
        weekday: 'int',
        hour: 'int',
        userAgent: 'string',
        headers: 'map<string, string>',
      },
    })
    .registerVariable('device', 'map<string, dyn>')
    .registerVariable({
      name: 'identity',
      schema: {
        id: 'string',
        kind: 'string',
        externalId: 'string',
        attributes: 'map<string, dyn>',
      },
    })
    .registerVariable('resource', 'string')
    .registerVariable('resourceType', 'string')
    .registerVariable('properties', 'map<string, dyn>')
    .registerVariable({ name: 'usage', schema: { lastMinute: 'int', lastHour: 'int' } })
    .registerVariable({
      name: 'token',
      schema: { issuer: 'string', subject: 'string', claims: 'map<string, dyn>' },
    })
    .registerFunction(`${RE2_MATCHES}(string, string): bool`, re2Matches)
    .registerFunction('cidr(string, string): bool', ipInCidr)
    .registerFunction('cidr(string, list<string>): bool', (ip: string, list: readonly string[]) =>
      list.some((range) => ipInCidr(ip, range)),
    );
}

/** What an auto-approval condition may read; see `AutoApprovalContext`. */
function autoApprovals(): Environment {
  return new Environment({ limits: LIMITS })
    .registerVariable({
      name: 'accessRequest',
      schema: {
        scope: 'string',
        resource: 'string',
        ttlSeconds: 'int',
        reason: 'string',
        forSelf: 'bool',
      },
    })
    .registerVariable({
      name: 'requester',
      schema: {
        id: 'string',
        kind: 'string',
        externalId: 'string',
        attributes: 'map<string, dyn>',
        scopes: 'list<string>',
      },
    })
    .registerFunction(`${RE2_MATCHES}(string, string): bool`, re2Matches);
}

/** Which language a condition is written against. */
export type ConditionKind = 'grant' | 'autoApproval';

const environments: Record<ConditionKind, Environment> = {
  grant: grantConditions(),
  autoApproval: autoApprovals(),
};

export function environmentOf(kind: ConditionKind): Environment {
  return environments[kind];
}

/** The variables each kind of condition may read, for messages. */
export const VARIABLES: Record<ConditionKind, readonly string[]> = {
  grant: [
    'request',
    'device',
    'identity',
    'resource',
    'resourceType',
    'properties',
    'usage',
    'token',
  ],
  autoApproval: ['accessRequest', 'requester'],
};

import { getDirective } from '@graphql-tools/utils';
import type { GraphQLField, GraphQLObjectType, GraphQLSchema } from 'graphql';
import type { Clause, Requirement } from '../authz/requirement.js';
import { parseValuePath } from '../authz/requirement.js';
import { parseScopeName } from '../authz/scope-name.js';

/** Thrown at schema build time when a directive is used in a way that cannot be enforced. */
export class InvalidRequirementError extends Error {
  override name = 'InvalidRequirementError';
}

interface RequiresArgs {
  scope?: string | null;
  anyOf?: readonly string[] | null;
  allOf?: readonly string[] | null;
  resource?: string | null;
  orSelf?: string | null;
}

function checkScope(scope: string, origin: string): string {
  if (parseScopeName(scope) === null) {
    throw new InvalidRequirementError(
      `@requires on ${origin} names "${scope}", which is not a scope: use <resource>:<action> with action read, write or execute.`,
    );
  }
  return scope;
}

function checkPath(
  text: string | null | undefined,
  argument: string,
  origin: string,
  field: GraphQLField<unknown, unknown> | null,
) {
  if (text === null || text === undefined) return null;
  const path = parseValuePath(text);
  if (path === null) {
    throw new InvalidRequirementError(
      `@requires(${argument}: "${text}") on ${origin} is not a path: use "args.<name>" or "parent.<field>".`,
    );
  }
  if (path.from === 'args') {
    if (field === null) {
      throw new InvalidRequirementError(
        `@requires(${argument}: "${text}") on ${origin} reads an argument, but type-level requirements apply to fields with different arguments; use "parent.<field>".`,
      );
    }
    if (!field.args.some((a) => a.name === path.keys[0])) {
      throw new InvalidRequirementError(
        `@requires(${argument}: "${text}") on ${origin} reads argument "${path.keys[0]}", which the field does not have.`,
      );
    }
  }
  return path;
}

function toClause(
  args: RequiresArgs,
  origin: string,
  field: GraphQLField<unknown, unknown> | null,
): Clause {
  const allOf = [...(args.scope ? [args.scope] : []), ...(args.allOf ?? [])].map((s) =>
    checkScope(s, origin),
  );
  const anyOf = (args.anyOf ?? []).map((s) => checkScope(s, origin));
  if (allOf.length === 0 && anyOf.length === 0) {
    throw new InvalidRequirementError(
      `@requires on ${origin} names no scope: give scope, allOf or anyOf (use @authenticated for "any caller").`,
    );
  }
  return {
    allOf: [...new Set(allOf)],
    anyOf: [...new Set(anyOf)],
    resource: checkPath(args.resource, 'resource', origin, field),
    orSelf: checkPath(args.orSelf, 'orSelf', origin, field),
    origin,
  };
}

/**
 * Everything a field of an object type requires, accumulated (AND) from the object type, each
 * interface it implements, the interface fields it implements and the field itself. `null` when
 * nothing applies.
 */
export function requirementOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  fieldName: string,
  names: { requires: string; authenticated: string },
): Requirement | null {
  const field = type.getFields()[fieldName];
  if (field === undefined) return null;
  const clauses: Clause[] = [];
  let authenticated = false;

  const add = (node: Parameters<typeof getDirective>[1], origin: string, withField: boolean) => {
    for (const args of getDirective(schema, node, names.requires) ?? []) {
      clauses.push(
        toClause(
          args as RequiresArgs,
          origin,
          withField ? (field as GraphQLField<unknown, unknown>) : null,
        ),
      );
    }
    if ((getDirective(schema, node, names.authenticated) ?? []).length > 0) authenticated = true;
  };

  add(type, `type ${type.name}`, false);
  for (const iface of type.getInterfaces()) {
    add(iface, `interface ${iface.name}`, false);
    const ifaceField = iface.getFields()[fieldName];
    if (ifaceField !== undefined) add(ifaceField, `${iface.name}.${fieldName}`, true);
  }
  add(field, `${type.name}.${fieldName}`, true);

  if (clauses.length === 0 && !authenticated) return null;
  return { authenticated, clauses };
}

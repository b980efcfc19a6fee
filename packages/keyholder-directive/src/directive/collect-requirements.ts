import type { GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema } from 'graphql';
import type { Clause, Requirement } from '../authz/requirement.js';
import { type Declaration, declarationsAt, declarationsOf, typeOrigin } from './declarations.js';
import { type DirectiveNames, directiveNames } from './directive-names.js';
import { readClause } from './read-clause.js';

/** Thrown at schema build time when a directive is used in a way that cannot be enforced. */
export class InvalidRequirementError extends Error {
  override name = 'InvalidRequirementError';
}

/**
 * Everything a field of an object type requires, accumulated (AND) from the object type, each
 * interface it implements, the interface fields it implements, the field itself and, for Apollo's
 * `@requiresScopes` and `@authenticated`, the type it returns (see `declarationsOf`). `null` when
 * nothing applies. Throws `InvalidRequirementError` naming the first declaration it cannot enforce.
 */
export function requirementOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  fieldName: string,
  names: Partial<DirectiveNames> & Pick<DirectiveNames, 'requires' | 'authenticated'>,
): Requirement | null {
  return requirementFrom(declarationsOf(schema, type, fieldName, directiveNames(names)));
}

/**
 * What an object or interface type requires of all its fields, from the directives on the type
 * and on the interfaces it implements (not on any field): what federation's `_entities` decides
 * for a representation before the entity is resolved. `null` when nothing applies. Throws
 * `InvalidRequirementError` like `requirementOf`.
 */
export function typeRequirementOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType | GraphQLInterfaceType,
  names: Partial<DirectiveNames>,
): Requirement | null {
  const resolved = directiveNames(names);
  const declarations = declarationsAt(schema, type, typeOrigin(type), null, resolved, 'type');
  for (const iface of type.getInterfaces()) {
    declarations.push(
      ...declarationsAt(schema, iface, typeOrigin(iface), null, resolved, 'interface'),
    );
  }
  return requirementFrom(declarations);
}

function requirementFrom(declarations: readonly Declaration[]): Requirement | null {
  const clauses: Clause[] = [];
  let authenticated = false;
  for (const declaration of declarations) {
    if (declaration.kind === 'authenticated') {
      authenticated = true;
      continue;
    }
    const { clause, problems } = readClause(declaration);
    if (problems[0] !== undefined) throw new InvalidRequirementError(problems[0].message);
    if (clause !== null) clauses.push(clause);
  }
  if (clauses.length === 0 && !authenticated) return null;
  return { authenticated, clauses };
}

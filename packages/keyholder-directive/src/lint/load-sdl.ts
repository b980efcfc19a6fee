import {
  buildASTSchema,
  type DefinitionNode,
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  parse,
  Source,
  specifiedDirectives,
  specifiedScalarTypes,
  visit,
} from 'graphql';
import { validateSDL } from 'graphql/validation/validate.js';
import type { DirectiveNames } from '../directive/directive-names.js';
import { apolloAuthenticatedLocations, requiresScopesSdl } from '../directive/type-defs.js';
import type { SdlLocation } from './finding.js';
import { locationOfError } from './sdl-location.js';

/** SDL that cannot be read: a syntax error or an invalid schema, with where it is. */
export class SchemaLoadError extends Error {
  override name = 'SchemaLoadError';
  constructor(
    message: string,
    readonly location?: SdlLocation,
  ) {
    super(message);
  }
}

const ANY = 'KeyholderLintAny';
const EVERY_LOCATION =
  'SCHEMA | SCALAR | OBJECT | FIELD_DEFINITION | ARGUMENT_DEFINITION | INTERFACE | UNION | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION';

const EXTENSION_TO_DEFINITION: Partial<Record<Kind, Kind>> = {
  [Kind.OBJECT_TYPE_EXTENSION]: Kind.OBJECT_TYPE_DEFINITION,
  [Kind.INTERFACE_TYPE_EXTENSION]: Kind.INTERFACE_TYPE_DEFINITION,
  [Kind.UNION_TYPE_EXTENSION]: Kind.UNION_TYPE_DEFINITION,
  [Kind.ENUM_TYPE_EXTENSION]: Kind.ENUM_TYPE_DEFINITION,
  [Kind.INPUT_OBJECT_TYPE_EXTENSION]: Kind.INPUT_OBJECT_TYPE_DEFINITION,
  [Kind.SCALAR_TYPE_EXTENSION]: Kind.SCALAR_TYPE_DEFINITION,
};

function toLoadError(error: unknown): SchemaLoadError {
  if (error instanceof GraphQLError) {
    return new SchemaLoadError(error.message, locationOfError(error));
  }
  return new SchemaLoadError(error instanceof Error ? error.message : String(error));
}

/**
 * What the team's SDL leaves out, so any graph can be linted on its own:
 * - our directives (`@requires`, `@authenticated` on Apollo's locations, `@requiresScopes`);
 * - any other directive it uses without declaring (federation's `@key`, `@link`, …), declared to
 *   accept any arguments anywhere;
 * - scalars that only directive definitions use (`federation__Scope`, `link__Import`, …);
 * - a type that is only extended (`extend type Query` in a federation subgraph) becomes defined.
 */
function completeDocument(document: DocumentNode, names: DirectiveNames): DocumentNode {
  const directives = new Set<string>(specifiedDirectives.map((d) => d.name));
  const types = new Set<string>(specifiedScalarTypes.map((t) => t.name));
  for (const definition of document.definitions) {
    if (definition.kind === Kind.DIRECTIVE_DEFINITION) directives.add(definition.name.value);
    else if (
      'name' in definition &&
      definition.name &&
      !(definition.kind in EXTENSION_TO_DEFINITION)
    )
      types.add(definition.name.value);
  }

  const added: string[] = [];
  if (!directives.has(names.requires)) {
    added.push(
      `directive @${names.requires}(scope: String, anyOf: [String!], allOf: [String!], resource: String, orSelf: String) on OBJECT | INTERFACE | FIELD_DEFINITION`,
    );
  }
  if (!directives.has(names.authenticated)) {
    added.push(`directive @${names.authenticated} on ${apolloAuthenticatedLocations}`);
  }
  if (!directives.has(names.requiresScopes))
    added.push(requiresScopesSdl(names.requiresScopes, 'String'));
  for (const name of [names.requires, names.authenticated, names.requiresScopes])
    directives.add(name);

  const unknownDirectives = new Map<string, Set<string>>();
  const directiveArgumentTypes = new Set<string>();
  visit(document, {
    Directive(node) {
      if (directives.has(node.name.value)) return;
      const args = unknownDirectives.get(node.name.value) ?? new Set<string>();
      for (const argument of node.arguments ?? []) args.add(argument.name.value);
      unknownDirectives.set(node.name.value, args);
    },
    DirectiveDefinition(node) {
      visit(node, {
        NamedType(named) {
          directiveArgumentTypes.add(named.name.value);
        },
      });
    },
  });
  for (const [name, args] of unknownDirectives) {
    const list = [...args].map((a) => `${a}: ${ANY}`).join(', ');
    added.push(`directive @${name}${list ? `(${list})` : ''} repeatable on ${EVERY_LOCATION}`);
  }
  if (unknownDirectives.size > 0 && !types.has(ANY)) added.push(`scalar ${ANY}`);
  for (const name of directiveArgumentTypes) if (!types.has(name)) added.push(`scalar ${name}`);

  const defined = new Set(types);
  const definitions = document.definitions.map((definition): DefinitionNode => {
    const kind = EXTENSION_TO_DEFINITION[definition.kind];
    if (kind === undefined || !('name' in definition) || defined.has(definition.name.value)) {
      return definition;
    }
    defined.add(definition.name.value);
    return { ...definition, kind } as DefinitionNode;
  });
  const extra = added.length > 0 ? parse(added.join('\n'), { noLocation: true }).definitions : [];
  return { ...document, definitions: [...definitions, ...extra] };
}

/**
 * Builds a schema from SDL files for linting. Throws `SchemaLoadError` (with file, line and
 * column when known) on a syntax error or an invalid schema.
 */
export function loadLintSchema(
  sources: readonly (string | Source)[],
  names: DirectiveNames,
): GraphQLSchema {
  const documents: DocumentNode[] = [];
  for (const source of sources) {
    try {
      documents.push(parse(typeof source === 'string' ? new Source(source, 'schema') : source));
    } catch (error) {
      throw toLoadError(error);
    }
  }
  const document = completeDocument(
    { kind: Kind.DOCUMENT, definitions: documents.flatMap((d) => d.definitions) },
    names,
  );
  const [first] = validateSDL(document);
  if (first !== undefined) throw toLoadError(first);
  try {
    return buildASTSchema(document, { assumeValidSDL: true });
  } catch (error) {
    throw toLoadError(error);
  }
}

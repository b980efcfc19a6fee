import {
  type ASTNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isEnumType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { typeOrigin } from '../../directive/declarations.js';

/** A schema element that can carry our directives. */
export interface DeclarationSite {
  readonly element: GraphQLNamedType | GraphQLField<unknown, unknown>;
  /** `Type` or `Type.field`. */
  readonly coordinate: string;
  /** As `requirementOf` names it in messages: `type Order`, `Order.total`. */
  readonly origin: string;
  /** The field an `args.<name>` path reads; `null` on types. */
  readonly field: GraphQLField<unknown, unknown> | null;
  readonly astNodes: readonly ASTNode[];
}

function nodesOf(element: {
  astNode?: ASTNode | null | undefined;
  extensionASTNodes?: readonly ASTNode[];
}): ASTNode[] {
  return [...(element.astNode ? [element.astNode] : []), ...(element.extensionASTNodes ?? [])];
}

/** Every object, interface, scalar and enum of the schema and every field of the first two. */
export function declarationSites(schema: GraphQLSchema): DeclarationSite[] {
  const sites: DeclarationSite[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    if (!isObjectType(type) && !isInterfaceType(type) && !isScalarType(type) && !isEnumType(type)) {
      continue;
    }
    sites.push({
      element: type,
      coordinate: type.name,
      origin: typeOrigin(type),
      field: null,
      astNodes: nodesOf(type),
    });
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        const coordinate = `${type.name}.${field.name}`;
        sites.push({
          element: field,
          coordinate,
          origin: coordinate,
          field,
          astNodes: nodesOf(field),
        });
      }
    }
  }
  return sites;
}

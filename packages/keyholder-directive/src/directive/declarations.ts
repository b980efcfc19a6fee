import { getDirective } from '@graphql-tools/utils';
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import type { DirectiveNames } from './directive-names.js';

export type DirectiveKind = keyof DirectiveNames;

/** How a declaration reaches a field: on its type, an interface, the interface's field, itself, or the type it returns. */
export type DeclarationVia = 'type' | 'interface' | 'interface field' | 'field' | 'returned type';

/** One directive usage that applies to a field, with the arguments as declared. */
export interface Declaration {
  readonly kind: DirectiveKind;
  readonly args: Readonly<Record<string, unknown>>;
  /** Where it was declared, for messages: `Order.total`, `type Order`, `scalar Email`. */
  readonly origin: string;
  /** The field whose arguments an `args.<name>` path may read; `null` on type-level usages. */
  readonly field: GraphQLField<unknown, unknown> | null;
  readonly via: DeclarationVia;
}

type Site = GraphQLNamedType | GraphQLField<unknown, unknown>;

const ALL_KINDS: readonly DirectiveKind[] = ['requires', 'requiresScopes', 'authenticated'];
/** The Apollo spellings, whose type-level usages also guard every field returning the type. */
const RETURNED_KINDS: readonly DirectiveKind[] = ['requiresScopes', 'authenticated'];

/** The directive usages on one schema element, in declaration order of kinds. */
export function declarationsAt(
  schema: GraphQLSchema,
  site: Site,
  origin: string,
  field: GraphQLField<unknown, unknown> | null,
  names: DirectiveNames,
  via: DeclarationVia,
  kinds: readonly DirectiveKind[] = ALL_KINDS,
): Declaration[] {
  const found: Declaration[] = [];
  for (const kind of kinds) {
    for (const args of getDirective(schema, site, names[kind]) ?? []) {
      found.push({ kind, args: args as Record<string, unknown>, origin, field, via });
    }
  }
  return found;
}

/** `type Order`, `interface Node`, `scalar Email`, `enum Status`, … */
export function typeOrigin(type: GraphQLNamedType): string {
  if (isInterfaceType(type)) return `interface ${type.name}`;
  if (isScalarType(type)) return `scalar ${type.name}`;
  if (isEnumType(type)) return `enum ${type.name}`;
  if (isUnionType(type)) return `union ${type.name}`;
  return `type ${type.name}`;
}

/**
 * Every directive usage that applies to a field of an object type:
 * - on the object type, each interface it implements and the interface fields it implements;
 * - on the field itself;
 * - `@requiresScopes` and `@authenticated` on the type the field returns (unwrapped from lists
 *   and non-null; for an object, also on its interfaces), as Apollo Router reads them. Unions
 *   pass nothing on: their members' fields are guarded by their own types.
 */
export function declarationsOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  fieldName: string,
  names: DirectiveNames,
): Declaration[] {
  const field = type.getFields()[fieldName] as GraphQLField<unknown, unknown> | undefined;
  if (field === undefined) return [];
  const seen = new Set<GraphQLNamedType>([type]);
  const found = declarationsAt(schema, type, typeOrigin(type), null, names, 'type');
  for (const iface of type.getInterfaces()) {
    seen.add(iface);
    found.push(...declarationsAt(schema, iface, typeOrigin(iface), null, names, 'interface'));
    const ifaceField = iface.getFields()[fieldName];
    if (ifaceField !== undefined) {
      const origin = `${iface.name}.${fieldName}`;
      found.push(...declarationsAt(schema, ifaceField, origin, field, names, 'interface field'));
    }
  }
  found.push(...declarationsAt(schema, field, `${type.name}.${fieldName}`, field, names, 'field'));

  const returned = getNamedType(field.type);
  const returnedTypes = isObjectType(returned)
    ? [returned, ...returned.getInterfaces()]
    : [returned];
  for (const target of returnedTypes) {
    if (seen.has(target)) continue;
    const origin = typeOrigin(target);
    found.push(
      ...declarationsAt(schema, target, origin, null, names, 'returned type', RETURNED_KINDS),
    );
  }
  return found;
}

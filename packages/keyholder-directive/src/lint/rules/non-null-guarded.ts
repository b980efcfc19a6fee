import {
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from 'graphql';
import { type Clause, describeClause } from '../../authz/requirement.js';
import { declarationsAt, declarationsOf, typeOrigin } from '../../directive/declarations.js';
import type { DirectiveNames } from '../../directive/directive-names.js';
import type { Finding } from '../finding.js';
import { locationOf } from '../sdl-location.js';
import { clausesOf, covers, implies } from './clause-logic.js';

/**
 * `non-null-guarded-field`: a field that can be denied where its parent is allowed, declared
 * non-null. A denied field is null with a `FORBIDDEN` error and the rest of the response stands —
 * but GraphQL turns a null in a non-null field into an error that nulls the parent, up to the
 * whole `data`, so one denial would wipe everything beside it. A field can be denied on its own
 * when its declarations (its own, its interface field's) ask more than its type's, or when the
 * type it returns asks more than the parent's type (that type's fields are then denied, and its
 * non-null ones null it). A requirement with a `resource` or `orSelf` path is decided per value,
 * so it can always deny. Also reported: list items that can be denied one by one (their type
 * decides per value) declared non-null, which would null the whole list. Subscription root fields
 * are not reported (a denied subscription is refused as a whole).
 */
export function nonNullGuardedFields(schema: GraphQLSchema, names: DirectiveNames): Finding[] {
  const findings: Finding[] = [];
  const subscription = schema.getSubscriptionType();
  const held = heldOnEveryPath(schema, names);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type) || type === subscription) continue;
    const parentClauses = [...typeClauses(schema, type, names), ...(held.get(type) ?? [])];
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      const deniable = deniableBy(schema, type, field, parentClauses, names);
      if (deniable === null) continue;
      const location = locationOf(field.astNode);
      const report = (message: string) =>
        findings.push({
          rule: 'non-null-guarded-field',
          coordinate,
          message,
          ...(location === undefined ? {} : { location }),
        });
      if (isNonNullType(field.type)) {
        report(
          `${coordinate} can be denied (${deniable}) but is non-null: one denial would null ${type.name} and what holds it. Make it nullable so the rest of the response stands.`,
        );
      }
      const list = isNonNullType(field.type) ? field.type.ofType : field.type;
      if (isListType(list) && isNonNullType(list.ofType) && perValue(schema, field, names)) {
        report(
          `The items of ${coordinate} are decided one by one (${deniable}) but are non-null: one denied item would null the whole list. Make the items nullable.`,
        );
      }
    }
  }
  return findings;
}

/** What an object type asks of all its fields: its own and its interfaces' type-level clauses. */
function typeClauses(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  names: DirectiveNames,
): Clause[] {
  return clausesOf([
    ...declarationsAt(schema, type, typeOrigin(type), null, names, 'type'),
    ...type
      .getInterfaces()
      .flatMap((i) => declarationsAt(schema, i, typeOrigin(i), null, names, 'interface')),
  ]);
}

/** A clause decided per value (a resource or self path): it can deny whatever the parent held. */
function perValueClause(clause: Clause): boolean {
  return clause.resource !== null || clause.orSelf !== null;
}

/** Whether the parent's clauses always satisfy `wanted` already. */
function impliedBy(parent: readonly Clause[], wanted: Clause): boolean {
  if (perValueClause(wanted)) return false;
  return implies(
    parent.filter((c) => covers(c, wanted)),
    wanted,
  );
}

/** Why `field` can be denied where its parent is allowed (a clause, described), or null. */
function deniableBy(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  field: GraphQLField<unknown, unknown>,
  parent: readonly Clause[],
  names: DirectiveNames,
): string | null {
  const own = clausesOf(
    declarationsOf(schema, type, field.name, names).filter(
      (d) => d.via === 'field' || d.via === 'interface field' || d.via === 'returned type',
    ),
  );
  const returned = getNamedType(field.type);
  const returnedClauses =
    isObjectType(returned) || isInterfaceType(returned)
      ? clausesOf([
          ...declarationsAt(schema, returned, typeOrigin(returned), null, names, 'type'),
          ...(isObjectType(returned)
            ? returned
                .getInterfaces()
                .flatMap((i) => declarationsAt(schema, i, typeOrigin(i), null, names, 'interface'))
            : []),
        ])
      : [];
  const stricter = [...own, ...returnedClauses].find((c) => !impliedBy(parent, c));
  return stricter === undefined ? null : `${describeClause(stricter)}, from ${stricter.origin}`;
}

/** Whether the items `field` returns are decided one by one (their type's clauses read values). */
function perValue(
  schema: GraphQLSchema,
  field: GraphQLField<unknown, unknown>,
  names: DirectiveNames,
): boolean {
  const returned = getNamedType(field.type);
  if (!isObjectType(returned)) return false;
  return typeClauses(schema, returned, names).some(perValueClause);
}

/** A scope-only clause as a key: the same scopes, the same key. */
function keyOf(clause: Clause): string {
  return JSON.stringify([
    [...clause.allOf].sort(),
    [...clause.anyOf].sort(),
    (clause.anyOfSets ?? []).map((set) => [...set].sort()).sort(),
  ]);
}

/**
 * For each object type reached from a root, the scope-only clauses every path to it has already
 * passed (its parents' types, the fields leading to it): what a caller holds whenever one of its
 * fields runs. A fixpoint over the schema's fields; per-value clauses are left out (they hold for
 * one value, not for the type).
 */
function heldOnEveryPath(
  schema: GraphQLSchema,
  names: DirectiveNames,
): Map<GraphQLObjectType, Clause[]> {
  const held = new Map<GraphQLObjectType, Map<string, Clause>>();
  const queue: GraphQLObjectType[] = [];
  for (const root of [
    schema.getQueryType(),
    schema.getMutationType(),
    schema.getSubscriptionType(),
  ]) {
    if (root) {
      held.set(root, new Map());
      queue.push(root);
    }
  }
  while (queue.length > 0) {
    const parent = queue.shift() as GraphQLObjectType;
    const base = new Map(held.get(parent));
    for (const clause of typeClauses(schema, parent, names)) {
      if (!perValueClause(clause)) base.set(keyOf(clause), clause);
    }
    for (const field of Object.values(parent.getFields())) {
      const passed = new Map(base);
      const own = clausesOf(
        declarationsOf(schema, parent, field.name, names).filter(
          (d) => d.via === 'field' || d.via === 'interface field',
        ),
      );
      for (const clause of own) if (!perValueClause(clause)) passed.set(keyOf(clause), clause);
      const named = getNamedType(field.type);
      const targets = isObjectType(named)
        ? [named]
        : isInterfaceType(named) || isUnionType(named)
          ? schema.getPossibleTypes(named)
          : [];
      for (const target of targets) {
        const before = held.get(target);
        const next =
          before === undefined ? passed : new Map([...before].filter(([key]) => passed.has(key)));
        if (before !== undefined && next.size === before.size) continue;
        held.set(target, next);
        queue.push(target);
      }
    }
  }
  return new Map([...held].map(([type, clauses]) => [type, [...clauses.values()]]));
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  isScalarType,
  isUnionType,
  Kind,
  parse,
} from 'graphql';
import { invariant } from 'keyholder-directive/errors.js';
import { identityReferenceResolvers } from '../modules/identities/identity-reference-resolvers.js';
import { packageRoot } from '../package-root.js';
import { checkedEntitiesResolver } from './checked-entities-resolver.js';
import { guardKeyholderSchema, keyholderResolvers, keyholderTypeDefs } from './schema.js';

/** The root fields federation adds; both need an authenticated caller, like introspection. */
const FEDERATION_ROOT_FIELDS = new Set(['_entities', '_service']);

/** `schema/federation/subgraph.graphql`: the `@link` to federation and `Identity @key(fields: "id")`. */
export function subgraphTypeDefs(): string {
  return readFileSync(join(packageRoot(), 'schema', 'federation', 'subgraph.graphql'), 'utf8');
}

/**
 * Keyholder's schema as an Apollo Federation 2 subgraph (`@apollo/subgraph`'s
 * `buildSubgraphSchema`), guarded exactly like the plain one:
 * - `Identity` is an entity (`@key(fields: "id")`), resolved through the request's loader;
 * - `_service` and `_entities` carry `@authenticated` (the server already refuses anonymous
 *   requests, as for introspection), so root fields stay guarded by default;
 * - through `_entities`, `Identity`'s own requirement (`identities:read`, or being that identity)
 *   is decided per representation before anything is loaded, and every field keeps its guard;
 * - malformed representations are `BAD_USER_INPUT` at their index.
 */
export function buildKeyholderSubgraphSchema(): GraphQLSchema {
  // One module: `@apollo/subgraph` attaches its resolvers (`__resolveReference` where `_entities`
  // looks for it); its `addResolversToSchema` is exported only from 2.15, which needs Node 22.
  const schema = buildSubgraphSchema([
    {
      typeDefs: parse([...keyholderTypeDefs(), subgraphTypeDefs()].join('\n')),
      resolvers: mergeResolverMaps([...keyholderResolvers, identityReferenceResolvers]),
    },
  ]);
  const entities = schema.getType('_Entity');
  invariant(isUnionType(entities), 'The subgraph declares at least one entity.');
  const field = schema.getQueryType()?.getFields()._entities;
  invariant(field?.resolve, '@apollo/subgraph resolves Query._entities.');
  field.resolve = checkedEntitiesResolver(
    entities.getTypes().map((t) => t.name),
    field.resolve,
  );
  return guardKeyholderSchema(authenticateFederationFields(schema));
}

/** `buildSubgraphSchema`'s module (`{ typeDefs, resolvers }`), not exported by name before 2.15. */
type SubgraphModule = Exclude<
  Extract<Parameters<typeof buildSubgraphSchema>[0], unknown[]>[number],
  DocumentNode
>;

/** Resolver maps merged type by type, a later map's field winning (as if added in order). */
function mergeResolverMaps(maps: readonly object[]): NonNullable<SubgraphModule['resolvers']> {
  const merged: Record<string, object> = {};
  for (const map of maps) {
    for (const [typeName, value] of Object.entries(map)) {
      const known = merged[typeName];
      // A scalar's behaviour is a GraphQLScalarType, taken whole.
      merged[typeName] =
        known === undefined || isScalarType(value) ? value : { ...known, ...(value as object) };
    }
  }
  return merged as NonNullable<SubgraphModule['resolvers']>;
}

function authenticateFederationFields(schema: GraphQLSchema): GraphQLSchema {
  const authenticated: ConstDirectiveNode = {
    kind: Kind.DIRECTIVE,
    name: { kind: Kind.NAME, value: 'authenticated' },
  };
  return mapSchema(schema, {
    [MapperKind.QUERY_ROOT_FIELD]: (config, fieldName) => {
      if (!FEDERATION_ROOT_FIELDS.has(fieldName)) return config;
      invariant(config.astNode, `Query.${fieldName} was built from SDL.`);
      const directives = [...(config.astNode.directives ?? []), authenticated];
      return { ...config, astNode: { ...config.astNode, directives } };
    },
  });
}

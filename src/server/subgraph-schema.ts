import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addResolversToSchema, buildSubgraphSchema } from '@apollo/subgraph';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { type ConstDirectiveNode, type GraphQLSchema, isUnionType, Kind, parse } from 'graphql';
import { invariant } from '../errors.js';
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
  const schema = buildSubgraphSchema(
    parse([...keyholderTypeDefs(), subgraphTypeDefs()].join('\n')),
  );
  for (const resolvers of [...keyholderResolvers, identityReferenceResolvers]) {
    addResolversToSchema(schema, resolvers);
  }
  const entities = schema.getType('_Entity');
  invariant(isUnionType(entities), 'The subgraph declares at least one entity.');
  addResolversToSchema(schema, {
    Query: { _entities: checkedEntitiesResolver(entities.getTypes().map((t) => t.name)) },
  });
  return guardKeyholderSchema(authenticateFederationFields(schema));
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

/**
 * The SDL of the directives. `@requires` arguments:
 * - `scope`, `allOf`: every scope named must be held; `anyOf`: at least one of them;
 * - `resource`: `"args.<name>"` or `"parent.<field>"`, the instance the scopes must cover;
 * - `orSelf`: `"args.<name>"` or `"parent.<field>"`; the requirement also holds when that value is
 *   the caller's own identity id (self access without any scope);
 * - `properties`: `{ name: "args.<name>" | "parent.<field>" }`, what grant conditions read as
 *   `properties.<name>` (with the parent type's name as `resourceType`), per value.
 */
export const requiresTypeDefs = /* GraphQL */ `
directive @requires(
  scope: String
  anyOf: [String!]
  allOf: [String!]
  resource: String
  orSelf: String
  properties: RequiresProperties
) on OBJECT | INTERFACE | FIELD_DEFINITION

"An object of property names to paths (args.<name> or parent.<field>), read by grant conditions as properties."
scalar RequiresProperties

directive @authenticated on OBJECT | FIELD_DEFINITION
`;

const APOLLO_LOCATIONS = 'FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM';

/**
 * The SDL of Apollo Router's `@requiresScopes` under `name`, with scope names of type `scopeType`
 * (a custom scalar is declared with it; `String` is not).
 */
export function requiresScopesSdl(
  name = 'requiresScopes',
  scopeType = 'federation__Scope',
): string {
  const scalar = scopeType === 'String' ? '' : `scalar ${scopeType}\n`;
  return `\n${scalar}directive @${name}(scopes: [[${scopeType}!]!]!) on ${APOLLO_LOCATIONS}\n`;
}

/**
 * Apollo Router's `@requiresScopes` as a federation subgraph declares it: the outer list is OR,
 * each inner list AND. Add it to your type definitions when your SDL does not declare it already.
 */
export const requiresScopesTypeDefs = requiresScopesSdl();

/** `@authenticated` on Apollo Router's locations (also INTERFACE, SCALAR and ENUM). */
export const apolloAuthenticatedLocations = APOLLO_LOCATIONS;

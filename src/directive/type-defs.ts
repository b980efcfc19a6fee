/**
 * The SDL of the directives. `@requires` arguments:
 * - `scope`, `allOf`: every scope named must be held; `anyOf`: at least one of them;
 * - `resource`: `"args.<name>"` or `"parent.<field>"`, the instance the scopes must cover;
 * - `orSelf`: `"args.<name>"` or `"parent.<field>"`; the requirement also holds when that value is
 *   the caller's own identity id (self access without any scope).
 */
export const requiresTypeDefs = /* GraphQL */ `
directive @requires(
  scope: String
  anyOf: [String!]
  allOf: [String!]
  resource: String
  orSelf: String
) on OBJECT | INTERFACE | FIELD_DEFINITION

directive @authenticated on OBJECT | FIELD_DEFINITION
`;

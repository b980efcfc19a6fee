/** `requiresDirective({ compat })`: Apollo Router's authorization directives in `typeDefs`. */
export interface RequiresCompatOptions {
  /**
   * Adds Apollo Router's `@requiresScopes(scopes: [[federation__Scope!]!]!)` (and the scalar) to
   * `typeDefs`, and declares `@authenticated` on Apollo's locations (also INTERFACE, SCALAR, ENUM).
   * - Leave it off when your SDL already declares them (a federation subgraph does).
   * - Either way, the transformer enforces `@requiresScopes` wherever the schema declares it: a
   *   directive the graph carries but nobody enforces would fail open.
   * @default false
   */
  requiresScopes?: boolean;
  /**
   * The element type `@requiresScopes` is declared with: a custom scalar (declared too) or
   * `String`. @default 'federation__Scope'
   */
  scopeType?: string;
}

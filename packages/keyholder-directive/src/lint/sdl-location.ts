import { type ASTNode, type GraphQLError, getLocation } from 'graphql';
import type { SdlLocation } from './finding.js';

/** The location of an AST node parsed with locations, else `undefined`. */
export function locationOf(node: ASTNode | null | undefined): SdlLocation | undefined {
  const loc = node?.loc;
  if (loc === undefined) return undefined;
  const { line, column } = getLocation(loc.source, loc.start);
  return { file: loc.source.name, line, column };
}

/** The first location a GraphQL error points at, else `undefined`. */
export function locationOfError(error: GraphQLError): SdlLocation | undefined {
  const first = error.locations?.[0];
  const file = error.source?.name ?? error.nodes?.[0]?.loc?.source.name;
  if (first === undefined || file === undefined) return undefined;
  return { file, line: first.line, column: first.column };
}

import { type ArgumentNode, Kind, parse } from 'graphql';
import type { Prefetch } from '../modules/keys/authentication.js';
import { isUuid } from '../modules/shared/validate.js';

type ValueRef = { literal: string } | { variable: string };

interface Hints {
  readonly identityIds: readonly ValueRef[];
  readonly scopes: readonly ValueRef[];
}

const NONE: Hints = { identityIds: [], scopes: [] };
const ROOT_ID_ARGUMENTS: Readonly<Record<string, string>> = { check: 'identityId', identity: 'id' };
const MAX_CACHED = 1000;
const MAX_TARGETS = 20;

function ref(argument: ArgumentNode | undefined): ValueRef | null {
  if (argument === undefined) return null;
  if (argument.value.kind === Kind.STRING) return { literal: argument.value.value };
  if (argument.value.kind === Kind.VARIABLE) return { variable: argument.value.name.value };
  return null;
}

function hintsOf(query: string): Hints {
  let document: ReturnType<typeof parse>;
  try {
    document = parse(query, { noLocation: true, maxTokens: 2000 });
  } catch {
    return NONE; // Apollo reports the syntax error after authentication.
  }
  const identityIds: ValueRef[] = [];
  const scopes: ValueRef[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'query') continue;
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) continue;
      const argumentName = ROOT_ID_ARGUMENTS[selection.name.value];
      if (argumentName === undefined) continue;
      const id = ref(selection.arguments?.find((a) => a.name.value === argumentName));
      if (id) identityIds.push(id);
      const scope = ref(selection.arguments?.find((a) => a.name.value === 'scope'));
      if (scope && selection.name.value === 'check') scopes.push(scope);
    }
  }
  return identityIds.length === 0 && scopes.length === 0 ? NONE : { identityIds, scopes };
}

/**
 * Reads which identities and scopes a query's root `check` / `identity` fields name, so the
 * authentication statement can load them in the same round trip. Parsed documents are cached by
 * text; anything unexpected yields no hints (the request still works, with more round trips).
 */
export class PrefetchPlanner {
  readonly #cache = new Map<string, Hints>();

  plan(query: unknown, variables: unknown): Prefetch {
    if (typeof query !== 'string' || query.length > 20_000) return { identityIds: [], scopes: [] };
    let hints = this.#cache.get(query);
    if (hints === undefined) {
      hints = hintsOf(query);
      if (this.#cache.size >= MAX_CACHED) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(query, hints);
    }
    if (hints === NONE) return { identityIds: [], scopes: [] };
    const vars =
      variables !== null && typeof variables === 'object'
        ? (variables as Record<string, unknown>)
        : {};
    const resolve = (r: ValueRef) => ('literal' in r ? r.literal : vars[r.variable]);
    const identityIds = hints.identityIds
      .map(resolve)
      .filter((v): v is string => typeof v === 'string' && isUuid(v))
      .map((v) => v.toLowerCase())
      .slice(0, MAX_TARGETS);
    const scopes = hints.scopes
      .map(resolve)
      .filter((v): v is string => typeof v === 'string' && v.length <= 200)
      .slice(0, MAX_TARGETS);
    return { identityIds, scopes };
  }
}

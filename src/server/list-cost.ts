import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  getNullableType,
  isListType,
  Kind,
  visit,
} from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../modules/shared/pagination.js';

/** The most an operation may cost: one per object it could return, lists counted by their bound. */
export const MAX_LIST_COST = 500_000;
/** What a list field without `first` counts as: at most this many items. */
export const UNPAGED_LIST_BOUND = 100;

/**
 * Cost counts lists: a field taking `first` costs its children `first` times (the default page
 * size when absent), the `nodes` of a connection are already counted by it, and any other list
 * field costs its children `UNPAGED_LIST_BOUND` times. A self-walk such as
 * `me { grants { identity { grants { identity { grants … } } } } }` multiplies at every level, so
 * it is refused before anything runs, where a per-field cost let it return 160,000 objects.
 */
const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // Introspection is the schema's size, not the data's: tools send it as it is.
  if (type.name.startsWith('__') || field.name.startsWith('__')) return 0;
  const first = args.first;
  if ('first' in args || field.args.some((a) => a.name === 'first')) {
    const size = typeof first === 'number' && first > 0 ? first : DEFAULT_PAGE_SIZE;
    return 1 + childComplexity * size;
  }
  if (isListType(getNullableType(field.type))) {
    const counted = field.name === 'nodes' && type.name.endsWith('Connection');
    return 1 + childComplexity * (counted ? 1 : UNPAGED_LIST_BOUND);
  }
  return 1 + childComplexity;
};

/**
 * Verdicts of documents whose cost no variable changes (no `first: $variable`), by operation
 * name: Apollo hands the same parsed document to every request with the same text, so the common
 * case costs one lookup instead of a walk of the operation.
 */
const verdicts = new WeakMap<DocumentNode, Map<string, string | null>>();
const sizedByVariables = new WeakMap<DocumentNode, boolean>();

function isSizedByVariables(document: DocumentNode): boolean {
  let known = sizedByVariables.get(document);
  if (known === undefined) {
    known = false;
    visit(document, {
      Argument(node) {
        if (node.name.value === 'first' && node.value.kind === Kind.VARIABLE) known = true;
      },
    });
    sizedByVariables.set(document, known);
  }
  return known;
}

/** The sentence refusing an operation that costs more than `MAX_LIST_COST`, or null. */
export function listCostProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | null | undefined,
): string | null {
  if (isSizedByVariables(document)) {
    return computeProblem(schema, document, variables, operationName);
  }
  let byName = verdicts.get(document);
  if (byName === undefined) {
    byName = new Map();
    verdicts.set(document, byName);
  }
  const key = operationName ?? '';
  const known = byName.get(key);
  if (known !== undefined) return known;
  const verdict = computeProblem(schema, document, variables, operationName);
  byName.set(key, verdict);
  return verdict;
}

function computeProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | null | undefined,
): string | null {
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      estimators: [estimator],
      ...(variables === undefined ? {} : { variables }),
      ...(operationName ? { operationName } : {}),
    });
  } catch {
    // Bad variables or an unknown operation: execution reports those with their own errors.
    return null;
  }
  if (cost <= MAX_LIST_COST) return null;
  return `The operation could return up to ${Math.round(cost).toLocaleString('en-US')} objects, over the limit of ${MAX_LIST_COST.toLocaleString('en-US')}: lists count \`first\` (${DEFAULT_PAGE_SIZE} when absent) or ${UNPAGED_LIST_BOUND} items, multiplied through every level. Ask for smaller pages or fewer nested lists.`;
}

/** Refuses, before execution, operations over `MAX_LIST_COST` (`GRAPHQL_VALIDATION_FAILED`, 400). */
export function listCostPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operationName }) {
          const problem = listCostProblem(schema, document, request.variables, operationName);
          if (problem !== null) {
            throw new GraphQLError(problem, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are read by shape in the benchmarks
type Any = any;

/** A GraphQL response as the benchmarks read it. */
export interface GraphqlAnswer {
  readonly data?: Record<string, Any> | null;
  readonly errors?: readonly { message: string; extensions?: { code?: string } }[];
}

/** POSTs one operation to `<url>/graphql` with the bearer key; network failures reject. */
export async function postGraphql(
  url: string,
  key: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphqlAnswer> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlAnswer;
}

/** Like `postGraphql`, but any GraphQL error rejects and the answer is its data. */
export async function graphqlData(
  url: string,
  key: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, Any>> {
  const answer = await postGraphql(url, key, query, variables);
  if (answer.errors !== undefined || !answer.data) {
    throw new Error(`GraphQL error: ${JSON.stringify(answer.errors)}`);
  }
  return answer.data;
}

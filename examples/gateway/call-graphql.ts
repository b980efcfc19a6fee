// biome-ignore lint/suspicious/noExplicitAny: the example reads answers by shape
type Any = any;

/** POSTs one operation to `endpoint` as `key`; resolves to its data, rejects on any error. */
export async function callGraphql(
  endpoint: string,
  key: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, Any>> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as { data?: Record<string, Any>; errors?: unknown[] };
  if (answer.errors !== undefined || !answer.data) {
    throw new Error(`${endpoint} answered with errors: ${JSON.stringify(answer.errors)}`);
  }
  return answer.data;
}

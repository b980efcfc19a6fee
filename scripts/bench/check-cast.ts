/**
 * Who `bench:check` and `bench:check-profile` ask about, seeded through the API: the question is
 * `CHECK_QUERY` about alice and `orders:read`, asked by a gateway service.
 */
import { gql } from './http-load.js';

/** The benchmarked operation: `check` about another identity (the usual gateway case). */
export const CHECK_QUERY =
  'query Check($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed reason } }';

/**
 * Seeds the Keyholder at `url` as its admin (`adminKey`): a gateway service holding
 * `grants:read` and `decisions:execute` (its new API key is returned), and alice (externalId
 * `00u-alice`, for AuthZEN) holding `orders:read`.
 */
export async function seedCheck(
  url: string,
  adminKey: string,
): Promise<{ key: string; aliceId: string }> {
  const id = async (mutation: string) =>
    Object.values(await gql(url, adminKey, mutation))[0].id as string;
  const gatewayId = await id(
    'mutation { createIdentity(input: { name: "gateway", kind: SERVICE }) { id } }',
  );
  const aliceId = await id(
    'mutation { createIdentity(input: { name: "alice", kind: USER, externalId: "00u-alice" }) { id } }',
  );
  await gql(url, adminKey, 'mutation { defineScope(input: { name: "orders:read" }) { name } }');
  for (const [who, scope] of [
    [gatewayId, 'grants:read'],
    [gatewayId, 'decisions:execute'],
    [aliceId, 'orders:read'],
  ]) {
    await id(
      `mutation { grant(input: { identityId: "${who}", scope: "${scope}", reason: "bench" }) { id } }`,
    );
  }
  const key = (
    await gql(
      url,
      adminKey,
      `mutation { createApiKey(input: { identityId: "${gatewayId}", name: "bench" }) { secret } }`,
    )
  ).createApiKey.secret as string;
  return { key, aliceId };
}

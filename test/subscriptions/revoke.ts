import { dataOf, gql } from '../fixtures/gql.js';
import type { Target } from '../fixtures/seed.js';

/** Revokes a grant as the admin of `target`. */
export async function revokeGrant(target: Target, id: string): Promise<void> {
  dataOf(
    await gql(
      target.url,
      target.adminKey,
      'mutation($id: ID!) { revokeGrant(id: $id, reason: "Subscription spec.") { id } }',
      { id },
    ),
  );
}

/** Revokes an API key as the admin of `target`. */
export async function revokeApiKey(target: Target, id: string): Promise<void> {
  dataOf(
    await gql(target.url, target.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', {
      id,
    }),
  );
}

/** Disables an identity as the admin of `target`. */
export async function disableIdentity(target: Target, id: string): Promise<void> {
  dataOf(
    await gql(
      target.url,
      target.adminKey,
      'mutation($id: ID!) { disableIdentity(id: $id) { id } }',
      { id },
    ),
  );
}

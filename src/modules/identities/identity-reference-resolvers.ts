import { badUserInput } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import { parseId } from '../shared/validate.js';

/**
 * `Identity` as a federation entity (`@key(fields: "id")`): a router's representation
 * `{ __typename: "Identity", id }` resolves through the request's identity loader, so every
 * representation of one `_entities` call is loaded in one statement.
 * - an unknown id resolves to `null`;
 * - a missing or malformed `id` is `BAD_USER_INPUT` for that representation only.
 */
export const identityReferenceResolvers = {
  Identity: {
    __resolveReference: async (reference: { readonly id?: unknown }, ctx: KeyholderContext) => {
      if (typeof reference.id !== 'string') {
        throw badUserInput('An Identity representation must carry its key "id" as a string.', {
          field: 'id',
        });
      }
      return ctx.loaders.identity.load(parseId(reference.id, 'identity'));
    },
  },
};

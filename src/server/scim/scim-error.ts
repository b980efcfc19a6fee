import { isDomainError } from 'keyholder-directive/errors.js';
import { authenticateChallenge, INVALID_DPOP_PROOF } from '../../modules/keys/dpop-proof.js';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The `scimType` values of RFC 7644 §3.12 that Keyholder answers with. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/**
 * A SCIM request refused: the HTTP status, a sentence naming the problem, and (for 400 and 409)
 * the `scimType`. Sent as `{ schemas: [SCIM_ERROR_SCHEMA], status, detail, scimType }`.
 */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimType,
    /** A 401's `WWW-Authenticate` value when not plain `Bearer` (a refused DPoP proof). */
    readonly challenge?: string,
  ) {
    super(message);
  }

  /** The SCIM error body. */
  body(): Record<string, unknown> {
    return {
      schemas: [SCIM_ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType === undefined ? {} : { scimType: this.scimType }),
      detail: this.message,
    };
  }
}

export const invalidValue = (message: string) => new ScimError(400, message, 'invalidValue');
export const invalidFilter = (message: string) => new ScimError(400, message, 'invalidFilter');
export const invalidSyntax = (message: string) => new ScimError(400, message, 'invalidSyntax');
export const scimNotFound = (message: string) => new ScimError(404, message);

/**
 * A Keyholder domain error as the SCIM error a client can act on: `BAD_USER_INPUT` is 400
 * `invalidValue`, `CONFLICT` 409 (`uniqueness` when something already exists), `NOT_FOUND` 404,
 * `FORBIDDEN` 403, `UNAUTHENTICATED` 401; anything else is not the client's (`null`).
 */
export function scimErrorOf(error: unknown): ScimError | null {
  if (error instanceof ScimError) return error;
  if (!isDomainError(error)) return null;
  switch (error.code) {
    case 'BAD_USER_INPUT':
      return invalidValue(error.message);
    case 'CONFLICT': {
      const exists = 'existingId' in error.extensions || /already exists/.test(error.message);
      return new ScimError(409, error.message, exists ? 'uniqueness' : undefined);
    }
    case 'NOT_FOUND':
      return scimNotFound(error.message);
    case 'FORBIDDEN':
      return new ScimError(403, error.message);
    case 'UNAUTHENTICATED':
      return new ScimError(
        401,
        error.message,
        undefined,
        error.extensions.reason === INVALID_DPOP_PROOF ? authenticateChallenge(error) : undefined,
      );
  }
}

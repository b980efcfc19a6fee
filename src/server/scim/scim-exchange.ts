import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { ScimDirectory } from './scim-directory.js';
import { ScimError } from './scim-error.js';

export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** Why Keyholder changed something on behalf of the identity provider (the audit's reason). */
export const SCIM_REASON = 'SCIM provisioning';

/** The most resources one page of a list holds (`count` above it is lowered to it). */
export const MAX_SCIM_PAGE = 1000;
const DEFAULT_SCIM_PAGE = 100;

/** One authenticated SCIM request on `/Users` or `/Groups`, its body read. */
export interface ScimRequest {
  readonly ctx: KeyholderContext;
  readonly directory: ScimDirectory;
  readonly method: string;
  /** The resource id after `/Users/` or `/Groups/`; `null` for the collection. */
  readonly id: string | null;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** `<scheme>://<host>/scim/v2`, for `meta.location` and `Location`. */
  readonly baseUrl: string;
}

/** What a SCIM handler answers: a status, a body (none for 204), a `Location` for 201. */
export interface ScimResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly location?: string;
  /** A 401's `WWW-Authenticate` when not plain `Bearer`. */
  readonly challenge?: string;
}

/** A 405 naming what `what` answers. */
export function methodNotAllowed(method: string, what: string, allowed: string): ScimError {
  return new ScimError(405, `${what} does not answer ${method}; it answers ${allowed}.`);
}

/** `startIndex` (1-based, at least 1) and `count` (0 to `MAX_SCIM_PAGE`) of a list request. */
export function pageOf(query: URLSearchParams): { startIndex: number; count: number } {
  const number = (name: string, fallback: number): number => {
    const raw = query.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^-?\d+$/.test(raw)) {
      throw new ScimError(
        400,
        `"${name}" must be an integer; it is "${raw.slice(0, 40)}".`,
        'invalidValue',
      );
    }
    return Number(raw);
  };
  return {
    startIndex: Math.max(1, number('startIndex', 1)),
    count: Math.min(MAX_SCIM_PAGE, Math.max(0, number('count', DEFAULT_SCIM_PAGE))),
  };
}

/** A SCIM ListResponse of one page. */
export function listResponse(
  total: number,
  startIndex: number,
  resources: readonly unknown[],
): Record<string, unknown> {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

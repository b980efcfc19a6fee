import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDatabaseUnavailable } from 'keyholder-directive/errors.js';
import { callerHolds } from '../../modules/grants/caller-authority.js';
import { provenBy } from '../../modules/keys/proof-of-possession.js';
import { requestIdOf } from '../../telemetry/request-id.js';
import { createContext, credentialOf, possessionOf, requestMetaOf } from '../context.js';
import { type EndpointOptions, originOf } from '../endpoint-options.js';
import { ScimDirectory } from './scim-directory.js';
import { scimResourceTypes, scimSchemas, scimServiceProviderConfig } from './scim-discovery.js';
import { invalidSyntax, ScimError, scimErrorOf, scimNotFound } from './scim-error.js';
import { methodNotAllowed, type ScimRequest, type ScimResponse } from './scim-exchange.js';
import { serveGroups } from './scim-groups.js';
import { serveUsers } from './scim-users.js';

export const SCIM_BASE_PATH = '/scim/v2';

/** The scopes a SCIM client's identity must hold, on every resource. */
export const SCIM_SCOPES = [
  'identities:read',
  'identities:write',
  'groups:read',
  'groups:write',
] as const;

/** What SCIM is given by the server it is mounted on (its body reader also takes `application/scim+json`). */
export type ScimOptions = EndpointOptions;

/** Whether `path` is under `/scim/v2`. */
export function isScimPath(path: string): boolean {
  return path === SCIM_BASE_PATH || path.startsWith(`${SCIM_BASE_PATH}/`);
}

/** `<scheme>://<host>/scim/v2` as the client reached it (`https` behind a proxy that says so). */
function baseUrlOf(req: IncomingMessage): string {
  return `${originOf(req)}${SCIM_BASE_PATH}`;
}

function send(res: ServerResponse, response: ScimResponse): void {
  res.statusCode = response.status;
  res.setHeader('cache-control', 'no-store');
  if (response.location !== undefined) res.setHeader('location', response.location);
  if (response.status === 401) res.setHeader('www-authenticate', response.challenge ?? 'Bearer');
  if (response.body === undefined) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/scim+json; charset=utf-8');
  res.end(JSON.stringify(response.body));
}

/** A path segment percent-decoded; one that does not decode names nothing (404). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw scimNotFound(`The path segment "${segment.slice(0, 80)}" is not valid.`);
  }
}

const fail = (error: ScimError): ScimResponse => ({
  status: error.status,
  body: error.body(),
  ...(error.challenge === undefined ? {} : { challenge: error.challenge }),
});

/**
 * SCIM 2.0 (RFC 7643, 7644) at `/scim/v2`, for identity providers (Okta, Microsoft Entra) that
 * provision people and groups:
 * - `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`: GET, without credentials;
 * - `/Users`, `/Groups` (see `serveUsers`, `serveGroups`): `Authorization: Bearer <API key or
 *   token>` of an identity holding `SCIM_SCOPES` on every resource, else 401 or 403;
 * - every refusal is a SCIM error body (`urn:ietf:params:scim:api:messages:2.0:Error`) with its
 *   status and, for bad input, its `scimType`; a failure that is not the client's is a masked 500,
 *   a database that does not answer a 503.
 */
export function scimRoutes(options: ScimOptions) {
  const directory = new ScimDirectory(options.database);

  const discovery = (req: IncomingMessage, segments: readonly string[]): ScimResponse | null => {
    const [what, name] = segments;
    const base = baseUrlOf(req);
    const answer =
      what === 'ServiceProviderConfig' && name === undefined
        ? scimServiceProviderConfig(base)
        : what === 'ResourceTypes'
          ? scimResourceTypes(base, name ?? null)
          : what === 'Schemas'
            ? scimSchemas(base, name ?? null)
            : undefined;
    if (answer === undefined) return null;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw methodNotAllowed(req.method ?? '', `/${what}`, 'GET');
    }
    if (answer === null) throw scimNotFound(`${what} "${name}" does not exist.`);
    return { status: 200, body: answer };
  };

  const resource = async (
    req: IncomingMessage,
    res: ServerResponse,
    segments: readonly string[],
    search: string,
    requestId: string,
  ): Promise<ScimResponse> => {
    const [what, id, more] = segments;
    if ((what !== 'Users' && what !== 'Groups') || more !== undefined) {
      throw scimNotFound(
        `Not found: SCIM serves /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas under ${SCIM_BASE_PATH}.`,
      );
    }
    const credential = credentialOf(req.headers.authorization);
    if (credential === null) {
      throw new ScimError(
        401,
        'Authentication required: send "Authorization: Bearer <api key or token>".',
      );
    }
    const request = requestMetaOf(req, requestId, options.services.conditionSettings);
    const { secret } = credential;
    const auth = await options.authenticate(
      secret,
      undefined,
      request,
      possessionOf(req, credential),
    );
    if (auth.caller.keyId !== null) options.keyUsage.record(auth.caller.keyId);
    const ctx = createContext(options, auth, request, (again) =>
      options.authenticate(secret, again, request, provenBy(auth)),
    );
    const lacking = SCIM_SCOPES.filter((scope) => !callerHolds(ctx, scope, null));
    if (lacking.length > 0) {
      throw new ScimError(
        403,
        `SCIM provisioning needs the scopes ${SCIM_SCOPES.map((s) => `"${s}"`).join(', ')} on every resource, and identity "${auth.caller.identity.name}" lacks ${lacking.map((s) => `"${s}"`).join(', ')}.`,
      );
    }
    const method = req.method ?? 'GET';
    let body: unknown;
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      const read = await options.readBody(req, res);
      if ('refusal' in read) {
        throw new ScimError(
          read.refusal.status,
          read.refusal.message,
          read.refusal.status === 400 ? 'invalidSyntax' : undefined,
        );
      }
      if (read.body === undefined) {
        throw invalidSyntax(
          'The request body must be JSON, sent as content-type: application/scim+json.',
        );
      }
      body = read.body;
    }
    const scim: ScimRequest = {
      ctx,
      directory,
      method,
      id: id ?? null,
      query: new URLSearchParams(search),
      body,
      baseUrl: baseUrlOf(req),
    };
    return what === 'Users' ? serveUsers(scim) : serveGroups(scim);
  };

  return {
    /** Serves `path` (one `isScimPath` accepts) with its query string `search`. */
    async serve(
      req: IncomingMessage,
      res: ServerResponse,
      path: string,
      search: string,
    ): Promise<void> {
      const requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      try {
        const segments = path
          .slice(SCIM_BASE_PATH.length)
          .split('/')
          .filter((s) => s !== '')
          .map(decodeSegment);
        send(
          res,
          discovery(req, segments) ?? (await resource(req, res, segments, search, requestId)),
        );
      } catch (error) {
        const refusal = scimErrorOf(error);
        if (refusal !== null) {
          send(res, fail(refusal));
        } else if (isDatabaseUnavailable(error)) {
          options.log('Database unavailable for a SCIM request', error);
          send(
            res,
            fail(
              new ScimError(
                503,
                'The database is unavailable; the request may not have completed. Try again later.',
              ),
            ),
          );
        } else {
          options.log('SCIM request failed', error);
          send(res, fail(new ScimError(500, 'Internal server error.')));
        }
      }
    },
  };
}

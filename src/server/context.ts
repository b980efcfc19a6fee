import type { IncomingMessage } from 'node:http';
import { normalizeIp } from 'keyholder-directive/conditions/cidr.js';
import {
  type ConditionSettings,
  DEFAULT_CONDITION_SETTINGS,
} from 'keyholder-directive/conditions/condition-settings.js';
import { invariant } from 'keyholder-directive/errors.js';
import { parseDevicePosture } from '../conditions/parse-device-posture.js';
import { RequestConditionState } from '../conditions/request-condition-state.js';
import { isTrustedProxy, resolveClientIp } from '../conditions/resolve-client-ip.js';
import type { KeyholderContext } from '../context/keyholder-context.js';
import { createLoaders } from '../context/loaders.js';
import type { Services } from '../context/services.js';
import type { Database } from '../db/client.js';
import { recordsAccess } from '../modules/audit/access-log-mode.js';
import { AccessRecord } from '../modules/audit/access-record.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import type { Authentication, Prefetch, RequestMeta } from '../modules/keys/authentication.js';
import { proofUrl } from '../modules/keys/dpop-proof.js';
import { BEARER, type Possession } from '../modules/keys/proof-of-possession.js';
import { GrantUseRecord } from '../modules/usage/grant-use-record.js';
import { type DecisionCounts, DecisionTally } from './decision-tally.js';
import { originOf } from './endpoint-options.js';

const AUTHORIZATION = /^(Bearer|DPoP)\s+(\S+)\s*$/i;

/** A credential as an `Authorization` value presents it: `Bearer <key>` or `DPoP <key>`. */
export interface PresentedCredential {
  readonly secret: string;
  /** `DPoP`: the request must carry a proof (RFC 9449); `Bearer`: it must not need one. */
  readonly scheme: 'Bearer' | 'DPoP';
}

/** The credential in `Bearer <key>` or `DPoP <key>` (schemes case-insensitive), else `null`. */
export function credentialOf(header: unknown): PresentedCredential | null {
  const match = typeof header === 'string' ? AUTHORIZATION.exec(header) : null;
  if (match === null) return null;
  const scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  return { secret: match[2] as string, scheme };
}

/**
 * How `req` presents `credential` for proof of possession: with the `DPoP` scheme, its `DPoP`
 * header and the `htm` and `htu` a proof must name: the request's method (`GET` for a WebSocket
 * upgrade) and `originOf(req)` (the `Host` header, `https` when `X-Forwarded-Proto` says so)
 * followed by the path, without query. The proof is the `DPoP` header's, unless given (a
 * WebSocket's comes in its `connection_init` payload, `dpop`).
 */
export function possessionOf(
  req: IncomingMessage,
  credential: PresentedCredential,
  proof: unknown = req.headers.dpop,
): Possession {
  if (credential.scheme === 'Bearer') return BEARER;
  return {
    kind: 'proof',
    proof: typeof proof === 'string' && proof !== '' ? proof : null,
    method: req.method ?? 'GET',
    url: `${originOf(req)}${proofUrl(req.url ?? '/')}`,
  };
}

const MAX_HEADER_VALUE = 1_000;

/**
 * What the audit log records of the request, and what conditions read of it: its id, the client
 * address (`resolveClientIp`: the peer, or a trusted proxy's `CLIENT_IP_HEADER`), the user agent,
 * the allow-listed headers (`CONDITION_HEADERS`: the first value of each, at most 1,000
 * characters) and, from a trusted proxy only, the device posture in `DEVICE_HEADER`. For an HTTP
 * request or a WebSocket's upgrade request alike.
 */
export function requestMetaOf(
  request: IncomingMessage,
  requestId: string,
  settings: ConditionSettings = DEFAULT_CONDITION_SETTINGS,
): RequestMeta {
  const userAgent = request.headers['user-agent'];
  const peer = request.socket.remoteAddress ?? null;
  const peerIp = peer === null ? null : normalizeIp(peer);
  // Each value of repeated headers apart, built only when a setting reads headers.
  const reads =
    settings.clientIpHeader !== null ||
    settings.deviceHeader !== null ||
    settings.headers.length > 0;
  const distinct: NodeJS.Dict<string[]> = reads ? request.headersDistinct : {};
  const valuesOf = (name: string) => distinct[name];
  const clientIp = resolveClientIp(
    peerIp,
    settings.clientIpHeader === null ? undefined : valuesOf(settings.clientIpHeader),
    settings.clientIpHeader,
    settings.trustedProxies,
  );
  const headers: Record<string, string> = {};
  for (const name of settings.headers) {
    const value = valuesOf(name)?.[0];
    if (value !== undefined) headers[name] = value.slice(0, MAX_HEADER_VALUE);
  }
  const device =
    settings.deviceHeader !== null && isTrustedProxy(peerIp, settings.trustedProxies)
      ? parseDevicePosture(valuesOf(settings.deviceHeader)?.[0])
      : {};
  return {
    requestId,
    clientIp,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 200) : null,
    ...(clientIp === peerIp ? {} : { peerIp }),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(Object.keys(device).length > 0 ? { device } : {}),
  };
}

/**
 * One operation's context, over HTTP or WebSocket alike; `reauthenticate` runs the authentication
 * statement again with the same key.
 */
export function createContext(
  deps: {
    readonly database: Database;
    readonly services: Services;
    /** Where the directive's decisions are counted for `/metrics`; absent counts nothing. */
    readonly decisionCounts?: DecisionCounts;
  },
  auth: Authentication,
  request: RequestMeta,
  reauthenticate: (prefetch: Prefetch) => Promise<Authentication>,
  reloadGrants?: () => Promise<readonly ActiveGrant[]>,
): KeyholderContext {
  const caller = { ...auth.caller, request };
  invariant(caller.revisions !== undefined, 'authentication records the revision it read.');
  const access = recordsAccess(deps.services.accessLogMode) ? new AccessRecord() : undefined;
  return {
    caller,
    revisions: caller.revisions,
    reread: async (prefetch) => {
      const fresh = await reauthenticate(prefetch);
      return { revision: fresh.revision, loaders: createLoaders(deps.database, fresh) };
    },
    loaders: createLoaders(deps.database, auth),
    services: deps.services,
    requestId: request.requestId,
    access,
    uses: new GrantUseRecord(
      deps.decisionCounts === undefined ? access : new DecisionTally(deps.decisionCounts, access),
      deps.services.usageWindows,
    ),
    conditions: new RequestConditionState(
      auth.scopeConditions,
      deps.services.conditionSettings,
      caller,
      deps.services.usageWindows,
      access,
    ),
    ...(reloadGrants ? { reloadGrants } : {}),
  };
}

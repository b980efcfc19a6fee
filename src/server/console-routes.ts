import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { OidcConsoleClient } from '../modules/tokens/oidc-issuers.js';
import { sendError } from './send-json.js';

/** What `consoleRoutes` serves, and from where. */
export interface ConsoleRoutesOptions {
  /** The Vite build of `console/` (`dist/console`): `index.html` and hashed `assets/`. */
  readonly directory: string;
  /**
   * `GRAPHIQL`: GraphiQL at `/console/graphiql` and at `GET /graphql` for a browser (a request that
   * accepts `text/html` and carries no query). Off, both pages say GraphiQL is off.
   */
  readonly graphiql: boolean;
  /**
   * Identity providers people may sign in with (`OIDC_ISSUERS` entries with `console`): offered on
   * the sign-in page, their token endpoints added to `connect-src`. @default []
   */
  readonly signIn?: readonly { readonly issuer: string; readonly client: OidcConsoleClient }[];
}

export interface ConsoleRoutes {
  /**
   * Answers the request when it is the console's, and says so:
   * - `GET /` from a browser (accepting `text/html`): a 302 to `/console`;
   * - `GET /console`, `/console/<page>…`: `index.html` (deep links), `no-cache`;
   * - `GET /console/assets/<hashed file>`: the file, cached for a year (`immutable`), or a 404;
   * - `GET /graphql` from a browser, with GraphiQL on: `index.html`, which opens GraphiQL.
   * Every answer carries a strict Content-Security-Policy (this origin only). Anything else is
   * left alone (`false`): Apollo, the other routes or the JSON 404 answer it.
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string, search: string): Promise<boolean>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/** A Host header fit to be written into a policy (no spaces, quotes or semicolons). */
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * Self only: scripts, styles, images and fonts from this origin; connections to this origin over
 * HTTP(S) and graphql-ws; no frames, no plugins, no foreign form targets.
 */
export function contentSecurityPolicy(
  host: string | undefined,
  tokenEndpoints: readonly string[] = [],
): string {
  const sockets = host !== undefined && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  const providers = tokenEndpoints.map((endpoint) => ` ${new URL(endpoint).origin}`).join('');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}${providers}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** True when the request's Accept header asks for HTML (a browser navigating), not JSON. */
export function acceptsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /\btext\/html\b/.test(accept);
}

/** The console's pages and assets, and GraphiQL for browsers: see `ConsoleRoutes`. */
export function consoleRoutes(options: ConsoleRoutesOptions): ConsoleRoutes {
  const assets = join(options.directory, 'assets');
  const signIn = options.signIn ?? [];
  const tokenEndpoints = signIn.map(({ client }) => client.tokenEndpoint);
  const providers = escapeAttribute(
    JSON.stringify(
      signIn.map(({ issuer, client }) => ({
        issuer,
        clientId: client.clientId,
        authorizationEndpoint: client.authorizationEndpoint,
        tokenEndpoint: client.tokenEndpoint,
        scope: client.scope,
        token: client.token,
      })),
    ),
  );
  let index: Promise<string | null> | undefined;
  const indexHtml = () => {
    index ??= readFile(join(options.directory, 'index.html'), 'utf8').then(
      (html) =>
        html
          .replace(
            '<meta name="keyholder-graphiql" content="off" />',
            `<meta name="keyholder-graphiql" content="${options.graphiql ? 'on' : 'off'}" />`,
          )
          .replace(
            '<meta name="keyholder-oidc" content="[]" />',
            `<meta name="keyholder-oidc" content="${providers}" />`,
          ),
      () => null,
    );
    return index;
  };

  const securityHeaders = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader(
      'content-security-policy',
      contentSecurityPolicy(req.headers.host, tokenEndpoints),
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
  };

  const sendIndex = async (req: IncomingMessage, res: ServerResponse) => {
    const html = await indexHtml();
    securityHeaders(req, res);
    if (html === null) {
      sendError(
        res,
        503,
        'SERVICE_UNAVAILABLE',
        `The console is not built: run "npm run build" (it writes ${options.directory}).`,
      );
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', CONTENT_TYPES['.html'] as string);
    res.setHeader('cache-control', 'no-cache');
    res.end(req.method === 'HEAD' ? undefined : html);
  };

  const sendAsset = async (req: IncomingMessage, res: ServerResponse, name: string) => {
    const file = normalize(join(assets, name));
    const type = CONTENT_TYPES[extname(file)];
    const found =
      file.startsWith(assets + sep) && type !== undefined
        ? await stat(file).then(
            (info) => info.isFile(),
            () => false,
          )
        : false;
    securityHeaders(req, res);
    if (!found) {
      sendError(res, 404, 'NOT_FOUND', `Not found: the console has no asset "${name}".`);
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', type as string);
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    res.end(req.method === 'HEAD' ? undefined : await readFile(file));
  };

  return {
    async serve(req, res, path, search) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path === '/' && acceptsHtml(req)) {
        res.statusCode = 302;
        res.setHeader('location', '/console');
        res.end();
        return true;
      }
      if (path === '/console' || path === '/console/') {
        await sendIndex(req, res);
        return true;
      }
      if (path.startsWith('/console/assets/')) {
        await sendAsset(req, res, decodedOrEmpty(path.slice('/console/assets/'.length)));
        return true;
      }
      if (path.startsWith('/console/')) {
        await sendIndex(req, res);
        return true;
      }
      const graphqlPath = path === '/graphql' || path === '/graphql/';
      if (graphqlPath && options.graphiql && acceptsHtml(req) && !hasQuery(search)) {
        await sendIndex(req, res);
        return true;
      }
      return false;
    },
  };
}

/** The percent-decoded path segment, or '' when it does not decode (no asset has that name). */
function decodedOrEmpty(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return '';
  }
}

function hasQuery(search: string): boolean {
  return new URLSearchParams(search).has('query');
}

function escapeAttribute(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('"', '&quot;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
}

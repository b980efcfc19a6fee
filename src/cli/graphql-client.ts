import type { DpopSigner } from './dpop-signer.js';
import { CliError, ExitCode } from './exit-codes.js';

/** One GraphQL error as Keyholder sends it. */
interface GraphQLErrorBody {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: { readonly code?: string; readonly [key: string]: unknown };
}

interface GraphQLResponseBody {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly GraphQLErrorBody[];
}

const DENYING_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);

/** The CLI's error for a GraphQL error: exit 3 for UNAUTHENTICATED/FORBIDDEN, 1 otherwise. */
export function errorFromGraphQL(error: GraphQLErrorBody): CliError {
  const code = error.extensions?.code;
  const exitCode =
    code !== undefined && DENYING_CODES.has(code) ? ExitCode.DENIED : ExitCode.SERVER_ERROR;
  return new CliError(exitCode, error.message, code);
}

/** The public GraphQL API of one Keyholder, called with one credential. */
export class GraphQLClient {
  readonly url: string;
  readonly #token: string;
  readonly #onPartial: ((error: CliError) => void) | undefined;
  readonly #signer: (() => Promise<DpopSigner>) | undefined;

  /**
   * @param onPartial told of each error below a root field that did answer (a nested field the
   *   credential may not read, nulled with FORBIDDEN): the rest of the answer stands. Without it,
   *   those errors reject too.
   * @param signer the DPoP key proving possession (`Authorization: DPoP`, a fresh proof per
   *   request); absent, the credential is sent as a bearer.
   */
  constructor(
    url: string,
    token: string,
    onPartial?: (error: CliError) => void,
    signer?: () => Promise<DpopSigner>,
  ) {
    this.url = url;
    this.#token = token;
    this.#onPartial = onPartial;
    this.#signer = signer;
  }

  /** `ws://…/graphql` for graphql-ws. */
  get webSocketUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/graphql`;
  }

  get token(): string {
    return this.#token;
  }

  /**
   * Runs one operation over HTTP POST and returns `data`. Any error in the answer (even beside
   * partial data) rejects with a `CliError` carrying its message and `extensions.code`; so does a
   * server that cannot be reached or does not answer GraphQL.
   */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    const endpoint = `${this.url}/graphql`;
    const signer = this.#signer === undefined ? null : await this.#signer();
    const credential: Record<string, string> =
      signer === null
        ? { authorization: `Bearer ${this.#token}` }
        : {
            authorization: `DPoP ${this.#token}`,
            dpop: await signer.proof(endpoint, 'POST', this.#token),
          };
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...credential,
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        ExitCode.SERVER_ERROR,
        `Cannot reach Keyholder at ${this.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}.`,
      );
    }
    const text = await response.text();
    let body: GraphQLResponseBody;
    try {
      body = JSON.parse(text) as GraphQLResponseBody;
    } catch {
      throw new CliError(
        ExitCode.SERVER_ERROR,
        `${this.url}/graphql answered HTTP ${response.status} without a GraphQL response; is it a Keyholder?`,
      );
    }
    const errors = body.errors ?? [];
    const data = body.data;
    const onPartial = this.#onPartial;
    const partial = (error: GraphQLErrorBody) => {
      const [root] = error.path ?? [];
      return (error.path?.length ?? 0) > 1 && typeof root === 'string' && data?.[root] != null;
    };
    const fatal = onPartial === undefined ? errors[0] : errors.find((e) => !partial(e));
    if (fatal !== undefined) throw errorFromGraphQL(fatal);
    for (const error of errors) onPartial?.(errorFromGraphQL(error));
    if (body.data === undefined || body.data === null) {
      throw new CliError(
        ExitCode.SERVER_ERROR,
        `Keyholder answered HTTP ${response.status} with no data.`,
      );
    }
    return body.data as T;
  }
}

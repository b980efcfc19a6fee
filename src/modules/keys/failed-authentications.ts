import { isDomainError } from 'keyholder-directive/errors.js';
import type { AccessLog } from '../audit/access-log.js';
import { looksLikeJwt } from '../tokens/token-verifier.js';
import { prefixOf } from './api-key-secret.js';
import type { RequestMeta } from './authentication.js';

/** How long one source and credential prefix stay quiet after an event: later failures are counted into the next. */
const QUIET_MS = 60_000;
/** Sources remembered at once; past it the oldest are forgotten (and may be reported again). */
const MAX_SOURCES = 10_000;

interface Quiet {
  readonly until: number;
  suppressed: number;
}

/**
 * Makes refused credentials visible (key guessing, use of revoked or expired keys, untrusted
 * tokens): every refusal is counted by reason (`counts`, for `/metrics`); the first from a source
 * (client address) and credential prefix in each minute is logged and written as an `auth.failed`
 * audit event (no actor; the reason, the prefix only, never the secret; the request; how many
 * refusals of that pair went unreported before it), so they reach search, the live feed and
 * webhooks without one guesser flooding the log. Never delays or changes the 401.
 */
export class FailedAuthentications {
  readonly counts = new Map<string, number>();
  readonly #quiet = new Map<string, Quiet>();
  readonly #accessLog: AccessLog;
  readonly #log: (message: string, error?: unknown) => void;

  constructor(accessLog: AccessLog, log: (message: string, error?: unknown) => void) {
    this.#accessLog = accessLog;
    this.#log = log;
  }

  /** Notes `error` if it refused `credential` (anything else is ignored). */
  note(
    error: unknown,
    credential: string,
    request: RequestMeta | undefined,
    now = Date.now(),
  ): void {
    if (!isDomainError(error) || error.code !== 'UNAUTHENTICATED') return;
    const reason = String(error.extensions.reason ?? 'OTHER');
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const prefix = looksLikeJwt(credential) ? 'token' : prefixOf(credential);
    const source = request?.clientIp ?? 'unknown';
    const key = `${source} ${prefix}`;
    const quiet = this.#quiet.get(key);
    if (quiet !== undefined && quiet.until > now) {
      quiet.suppressed += 1;
      return;
    }
    this.#quiet.delete(key);
    if (this.#quiet.size >= MAX_SOURCES) {
      const oldest = this.#quiet.keys().next().value;
      if (oldest !== undefined) this.#quiet.delete(oldest);
    }
    this.#quiet.set(key, { until: now + QUIET_MS, suppressed: 0 });
    const unreported = quiet?.suppressed ?? 0;
    this.#log(
      `Refused credential ${prefix} from ${source} (${reason})${unreported > 0 ? `; ${unreported} more refusals of it were not reported in the last minute` : ''}.`,
    );
    this.#accessLog
      .append(
        {
          action: 'auth.failed',
          actorId: null,
          details: {
            reason,
            credential: prefix,
            message: error.message,
            unreported,
            ...(request ? { request } : {}),
          },
        },
        Number.POSITIVE_INFINITY,
      )
      ?.catch((failure: unknown) => this.#log('Could not queue an auth.failed event', failure));
  }
}

import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webhookDeliveries } from '../../db/tables.js';
import type { Job, JobDefinition, JobHandle, RunResult } from '../../workers/scheduler.js';
import { CHAINED_COLUMNS, runSealed } from '../audit/audit-chain.js';
import { AUDIT_CHANNEL } from '../audit/audit-feed.js';
import { type RetrySchedule, retryDelayMs } from './retry-delay.js';
import { webhookOwnerRights } from './webhook-owner-rights.js';
import { signStandardWebhook, signWebhook } from './webhook-signature.js';
import { WebhookTargets } from './webhook-target.js';

/** How deliveries are sent and retried. Every field has a default (`DEFAULT_DISPATCH`). */
export interface WebhookDispatchOptions extends RetrySchedule {
  /**
   * The shortest pause between two looks at the outbox while deliveries are pending. The
   * dispatcher also wakes when a change queues a delivery (on any instance), and when the earliest
   * pending retry falls due. @default 250
   */
  readonly pollIntervalMs: number;
  /**
   * How often an idle dispatcher (nothing pending) looks anyway, in case a wake-up was missed
   * (a LISTEN connection re-established). @default 30000
   */
  readonly idlePollMs: number;
  /** How long a receiver has to answer one delivery before the attempt counts as failed. @default 5000 */
  readonly timeoutMs: number;
  /** The delay after the first failed attempt, doubled by each further failure. @default 1000 */
  readonly retryBaseMs: number;
  /** The longest delay between two attempts. @default 300000 (5 minutes) */
  readonly retryMaxMs: number;
  /** Attempts after which a delivery is FAILED and no longer retried. @default 15 */
  readonly maxAttempts: number;
  /** Deliveries one process sends at once. @default 16 */
  readonly concurrency: number;
  /**
   * Networks (CIDR) receivers may be in although loopback, link-local, private or reserved
   * (`WEBHOOK_ALLOWED_NETWORKS`: on-premises receivers). @default none
   */
  readonly allowedNetworks: readonly string[];
}

export const DEFAULT_DISPATCH: WebhookDispatchOptions = {
  pollIntervalMs: 250,
  idlePollMs: 30_000,
  timeoutMs: 5000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  maxAttempts: 15,
  concurrency: 16,
  allowedNetworks: [],
};

interface Claimed extends Record<string, unknown> {
  id: string;
  webhook_id: string;
  attempts: number;
  url: string;
  secret: string;
  /** Whose rights the delivery needs (see `webhooks.owner_id`). */
  owner_id: string | null;
  event_id: string;
  seq: string;
  at: string;
  action: string;
  actor_id: string | null;
  subject_id: string | null;
  details: string;
  hash: string;
}

/** Notified by the outbox trigger when a committed change queued at least one delivery. */
const CHANNEL = 'keyholder_webhooks';
/** Notified by the audit log for every committed event (drizzle/0002_audit_notify.sql). */
/** How long the resumer lets a burst of events gather before it looks. */
const RESUME_DELAY_MS = 100;
/** Pause before claiming again when there may be more work right away. */
const AGAIN_MS = 10;
/** Pause before trying again when the outbox could not be read (database unavailable). */
const UNAVAILABLE_RETRY_MS = 5000;
const MAX_ERROR_LENGTH = 500;

// Claims due deliveries in one statement: rows another instance has locked are skipped, and each
// claimed row is leased (next_attempt_at pushed past the request timeout) before the lock is
// released, so no other instance sends it while this one does. A crash mid-send leaves the lease
// to expire and the delivery to be retried: at least once.
const CLAIM_SQL = `
with due as (
  select d.id from webhook_deliveries d
  join webhooks w on w.id = d.webhook_id
  where d.status = 'PENDING' and d.next_attempt_at <= now() and w.paused_at is null
  order by d.next_attempt_at
  limit $1
  for update of d skip locked
), claimed as (
  update webhook_deliveries d
  set attempts = d.attempts + 1, last_attempt_at = now(),
      next_attempt_at = now() + make_interval(secs => $2::double precision)
  from due where d.id = due.id
  returning d.id, d.webhook_id, d.event_id, d.attempts
)
select c.id::text as id, c.webhook_id::text as webhook_id, c.attempts, w.url, w.secret,
       coalesce(w.owner_id, w.created_by)::text as owner_id,
       e.id::text as event_id, e.seq::text as seq,
       to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
       e.action, e.actor_id::text as actor_id, e.subject_id, e.details::text as details, e.hash
from claimed c
join webhooks w on w.id = c.webhook_id
join audit_events e on e.id = c.event_id`;

// When the earliest pending delivery not yet claimed falls due, in ms from now (null: none).
const NEXT_DUE_SQL = `
select (extract(epoch from (min(d.next_attempt_at) - now())) * 1000)::float8 as due_in_ms
from webhook_deliveries d join webhooks w on w.id = d.webhook_id
where d.status = 'PENDING' and w.paused_at is null`;

// Pauses a webhook (once), hands its claimed deliveries back untried, and records why.
const PAUSE_SQL = `
with paused as (
  update webhooks set paused_at = now(), pause_reason = $2
  where id = $1::uuid and paused_at is null and active
  returning id, coalesce(owner_id, created_by) as owner_id
), released as (
  update webhook_deliveries set attempts = attempts - 1, next_attempt_at = now()
  where id = any($3::uuid[])
)
insert into audit_events as e (action, actor_id, subject_id, details)
select 'webhook.paused', null, p.id::text, jsonb_build_object(
  'reason', $2::text, 'ownerId', p.owner_id, 'sensitive', true)
from paused p
returning ${CHAINED_COLUMNS}`;

// Resumes a paused webhook whose owner holds the rights again, and records it.
const RESUME_SQL = `
with resumed as (
  update webhooks set paused_at = null, pause_reason = null
  where id = any($1::uuid[]) and paused_at is not null
  returning id, coalesce(owner_id, created_by) as owner_id
)
insert into audit_events as e (action, actor_id, subject_id, details)
select 'webhook.resumed', null, r.id::text, jsonb_build_object(
  'ownerId', r.owner_id, 'sensitive', true)
from resumed r
returning ${CHAINED_COLUMNS}`;

const PAUSED_SQL = `
select id::text as id, coalesce(owner_id, created_by)::text as owner_id
from webhooks where paused_at is not null and active`;

/** Why an attempt failed, in a sentence for `lastError`. */
function describeFailure(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return `The receiver did not answer within ${timeoutMs} ms.`;
  if (name === 'AbortError') return 'Keyholder stopped before the receiver answered.';
  const cause = (error as { cause?: unknown } | null)?.cause;
  const detail =
    cause instanceof Error
      ? cause.message || String((cause as { code?: unknown }).code ?? cause.name)
      : error instanceof Error
        ? error.message
        : String(error);
  return `The request failed: ${detail}`.slice(0, MAX_ERROR_LENGTH);
}

/** The dispatcher's work in this process since it started (see `WebhookDispatcher.stats`). */
export interface WebhookDispatchStats {
  /** Deliveries being sent right now. */
  readonly inFlight: number;
  /** Deliveries a receiver accepted (2xx). */
  readonly delivered: number;
  /** Attempts that failed (any other status, a refused connection, a timeout). */
  readonly failedAttempts: number;
  /** Deliveries given up after their last attempt failed (`FAILED`). */
  readonly failed: number;
}

/**
 * Sends the webhook outbox. Deliveries are rows written by a trigger in each change's transaction;
 * this claims the due ones (`FOR UPDATE SKIP LOCKED`, so instances never send one concurrently),
 * POSTs them signed, and records the outcome:
 * - a 2xx answer marks the delivery DELIVERED;
 * - any other status, a refused connection or a timeout is recorded (`lastStatusCode`,
 *   `lastError`) and retried after `retryDelayMs`, until `maxAttempts` attempts: then FAILED;
 * - redirects are not followed (a 3xx is a failure), so a receiver cannot bounce the server elsewhere.
 * Sending happens outside any transaction: a slow receiver never holds up a change.
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatchOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #delivered = 0;
  #failedAttempts = 0;
  #failed = 0;
  /** Aborted when the scheduler stops: requests in flight end as failed attempts. */
  #stopping: AbortSignal | null = null;
  /** The dispatcher's job, woken when a webhook resumes. */
  #dispatcher: Job | null = null;
  /** Where deliveries may go (refused networks, checked at connect time). */
  readonly #targets: WebhookTargets;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
    options: Partial<WebhookDispatchOptions> = {},
  ) {
    this.#options = { ...DEFAULT_DISPATCH, ...options };
    this.#targets = new WebhookTargets(this.#options.allowedNetworks);
  }

  /**
   * The dispatcher as a job of the scheduler: woken by the outbox trigger's notification and by
   * each delivery that finishes, sleeping until the earliest pending retry otherwise.
   */
  job(): JobDefinition {
    const { idlePollMs } = this.#options;
    return {
      name: 'webhook-dispatcher',
      run: (job) => this.#tick(job),
      intervalMs: idlePollMs,
      retryBaseMs: UNAVAILABLE_RETRY_MS,
      retryMaxMs: Math.min(idlePollMs, UNAVAILABLE_RETRY_MS),
      wakeOn: { channel: CHANNEL, delayOf: () => AGAIN_MS },
      failure: 'Could not claim webhook deliveries',
      attached: (job) => {
        this.#dispatcher = job;
      },
    };
  }

  /**
   * Resuming paused webhooks, as a second job: woken (coalesced, `RESUME_DELAY_MS`) by every
   * committed audit event, since a grant, a membership or an enabled identity may give an owner
   * its rights back; a resumed webhook wakes the dispatcher for its backlog.
   */
  resumeJob(): JobDefinition {
    return {
      name: 'webhook-resumer',
      run: async () => {
        if (await this.#resumeRegained()) this.#dispatcher?.wake(0);
        return undefined;
      },
      intervalMs: this.#options.idlePollMs,
      wakeOn: { channel: AUDIT_CHANNEL, delayOf: () => RESUME_DELAY_MS },
      failure: 'Could not look for paused webhooks to resume',
    };
  }

  /** What this process has sent since it started, for `/metrics`: in memory, no statement. */
  stats(): WebhookDispatchStats {
    return {
      inFlight: this.#inFlight.size,
      delivered: this.#delivered,
      failedAttempts: this.#failedAttempts,
      failed: this.#failed,
    };
  }

  /** Waits for the requests in flight (aborted when the scheduler stopped): call after it stops. */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async #tick(job: JobHandle): Promise<RunResult> {
    const { pollIntervalMs, idlePollMs, timeoutMs, concurrency } = this.#options;
    this.#stopping = job.signal;
    const room = concurrency - this.#inFlight.size;
    // Full: each delivery that finishes wakes the dispatcher.
    if (room <= 0) return pollIntervalMs;
    const leaseSeconds = (2 * timeoutMs + 10_000) / 1000;
    const claimed = await this.#withOwnerRights(
      await this.database.query<Claimed>(CLAIM_SQL, [room, leaseSeconds]),
    );
    for (const delivery of claimed) {
      const sending: Promise<void> = this.#deliver(delivery)
        .catch((error) => this.log(`Could not record webhook delivery ${delivery.id}`, error))
        .finally(() => {
          this.#inFlight.delete(sending);
          job.wake(AGAIN_MS);
        });
      this.#inFlight.add(sending);
    }
    if (claimed.length === room) return AGAIN_MS;
    try {
      const [next] = await this.database.query<{ due_in_ms: number | null }>(NEXT_DUE_SQL);
      const dueInMs = next?.due_in_ms ?? null;
      return dueInMs === null ? idlePollMs : Math.max(pollIntervalMs, Math.ceil(Number(dueInMs)));
    } catch (error) {
      this.log('Could not read when the next webhook delivery is due', error);
      return pollIntervalMs;
    }
  }

  /**
   * Of `claimed`, the deliveries whose webhook's owner holds `WEBHOOK_SCOPES` now; the webhooks of
   * the others are paused (`webhook.paused`, flagged sensitive so alerts fire) and their claimed
   * deliveries handed back untried, to go out if the owner regains the rights.
   */
  async #withOwnerRights(claimed: readonly Claimed[]): Promise<Claimed[]> {
    if (claimed.length === 0) return [];
    const owners = claimed.map((d) => d.owner_id).filter((id): id is string => id !== null);
    const rights = await webhookOwnerRights(this.database.db, owners);
    const lacking = new Map<string, { why: string; ids: string[] }>();
    const allowed: Claimed[] = [];
    for (const delivery of claimed) {
      const right = delivery.owner_id === null ? undefined : rights.get(delivery.owner_id);
      if (right?.ok === true) {
        allowed.push(delivery);
        continue;
      }
      const why = right === undefined ? 'it has no owner' : right.why;
      const entry = lacking.get(delivery.webhook_id) ?? { why, ids: [] };
      entry.ids.push(delivery.id);
      lacking.set(delivery.webhook_id, entry);
    }
    for (const [webhookId, { why, ids }] of lacking) {
      await runSealed(this.database, PAUSE_SQL, [
        webhookId,
        `Paused: ${why}.`,
        `{${ids.join(',')}}`,
      ]);
      this.log(`Webhook ${webhookId} paused: ${why}`);
    }
    return allowed;
  }

  /**
   * Resumes the paused webhooks whose owners hold `WEBHOOK_SCOPES` again (`webhook.resumed`);
   * true when one did.
   */
  async #resumeRegained(): Promise<boolean> {
    const paused = await this.database.query<{ id: string; owner_id: string | null }>(PAUSED_SQL);
    if (paused.length === 0) return false;
    const owners = paused.map((w) => w.owner_id).filter((id): id is string => id !== null);
    const rights = await webhookOwnerRights(this.database.db, owners);
    const regained = paused
      .filter((w) => w.owner_id !== null && rights.get(w.owner_id)?.ok === true)
      .map((w) => w.id);
    if (regained.length === 0) return false;
    await runSealed(this.database, RESUME_SQL, [`{${regained.join(',')}}`]);
    this.log(`Webhooks resumed, their owners hold the rights again: ${regained.join(', ')}`);
    return true;
  }

  async #deliver(delivery: Claimed): Promise<void> {
    const body = JSON.stringify({
      id: delivery.id,
      webhookId: delivery.webhook_id,
      event: {
        id: delivery.event_id,
        seq: delivery.seq,
        at: delivery.at,
        action: delivery.action,
        actorId: delivery.actor_id,
        subjectId: delivery.subject_id,
        details: JSON.parse(delivery.details) as unknown,
        hash: delivery.hash,
      },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    let status: number | null = null;
    let failure: string | null = null;
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      // Redirects are not followed (node:http never does): a 3xx is a failed attempt.
      status = await this.#targets.post(
        delivery.url,
        {
          'content-type': 'application/json',
          'user-agent': 'Keyholder-Webhooks/1',
          'x-keyholder-delivery': delivery.id,
          'x-keyholder-timestamp': timestamp,
          'x-keyholder-signature': signWebhook(delivery.secret, timestamp, body),
          // Standard Webhooks (standardwebhooks.com): receivers verify with its libraries as is.
          'webhook-id': delivery.id,
          'webhook-timestamp': timestamp,
          'webhook-signature': signStandardWebhook(delivery.secret, delivery.id, timestamp, body),
        },
        body,
        AbortSignal.any([timeout, ...(this.#stopping === null ? [] : [this.#stopping])]),
      );
      if (status < 200 || status > 299) failure = `The receiver answered HTTP ${status}.`;
    } catch (error) {
      failure = timeout.aborted
        ? `The receiver did not answer within ${this.#options.timeoutMs} ms.`
        : describeFailure(error, this.#options.timeoutMs);
    }
    await this.#record(delivery, status, failure);
  }

  async #record(delivery: Claimed, status: number | null, failure: string | null): Promise<void> {
    const pending = and(
      eq(webhookDeliveries.id, delivery.id),
      eq(webhookDeliveries.status, 'PENDING'),
    );
    if (failure === null) {
      await this.database.db
        .update(webhookDeliveries)
        .set({
          status: 'DELIVERED',
          deliveredAt: sql`now()`,
          nextAttemptAt: null,
          lastStatusCode: status,
          lastError: null,
        })
        .where(pending);
      this.#delivered += 1;
      return;
    }
    const final = delivery.attempts >= this.#options.maxAttempts;
    this.#failedAttempts += 1;
    if (final) this.#failed += 1;
    const delay = retryDelayMs(delivery.attempts, this.#options);
    await this.database.db
      .update(webhookDeliveries)
      .set({
        status: final ? 'FAILED' : 'PENDING',
        nextAttemptAt: final
          ? null
          : sql`now() + make_interval(secs => ${delay / 1000}::double precision)`,
        lastStatusCode: status,
        lastError: failure,
      })
      .where(pending);
  }
}

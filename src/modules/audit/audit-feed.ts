import { asc, inArray } from 'drizzle-orm';
import { GraphQLError } from 'graphql';
import type { Database } from '../../db/client.js';
import { type AuditEventRow, auditEvents } from '../../db/tables.js';
import { matchesAuditFilter, type ParsedAuditFilter } from './audit-filter.js';
import { EventQueue, SUBSCRIPTION_ENDED } from './event-queue.js';

/** The LISTEN channel every committed audit event notifies. */
export const AUDIT_CHANNEL = 'keyholder_audit';
/** Events one subscriber may have waiting before it is closed. */
const SUBSCRIBER_BACKLOG = 1000;

/**
 * The live audit feed of one process. The database announces every committed audit row on
 * `LISTEN keyholder_audit` (an insert trigger; comma-separated ids, up to 500 per notification),
 * whichever instance wrote it; the feed
 * reads announced rows in batches, in chain order, and hands each to the subscribers whose filter
 * it passes.
 */
export class AuditFeed {
  readonly #subscribers = new Set<{
    filter: ParsedAuditFilter;
    queue: EventQueue<AuditEventRow>;
  }>();
  #announced: number[] = [];
  #flushing: Promise<void> | null = null;
  #unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
  ) {}

  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(AUDIT_CHANNEL, (payload) => {
      if (this.#subscribers.size === 0) return;
      for (const part of payload.split(',')) {
        const id = Number(part);
        if (Number.isSafeInteger(id)) this.#announced.push(id);
      }
      this.#flushing ??= this.#flush().finally(() => {
        this.#flushing = null;
      });
    });
  }

  /** A stream of the events committed from now on that pass `filter`. */
  subscribe(filter: ParsedAuditFilter): AsyncIterableIterator<AuditEventRow> {
    const subscriber = {
      filter,
      queue: new EventQueue<AuditEventRow>(SUBSCRIBER_BACKLOG, () =>
        this.#subscribers.delete(subscriber),
      ),
    };
    this.#subscribers.add(subscriber);
    return subscriber.queue;
  }

  async close(): Promise<void> {
    await this.#unlisten?.().catch((error) =>
      this.log('Could not stop listening for audit events', error),
    );
    for (const subscriber of [...this.#subscribers]) subscriber.queue.end();
  }

  async #flush(): Promise<void> {
    while (this.#announced.length > 0) {
      const ids = this.#announced.splice(0, 500);
      try {
        const rows = await this.database.db
          .select()
          .from(auditEvents)
          .where(inArray(auditEvents.id, ids))
          .orderBy(asc(auditEvents.seq));
        // Each subscriber re-checks its credential on every event: first learn what the changes
        // behind these events touched, so the re-checks they did not touch need no statement.
        await this.database.revisionSource.settled();
        for (const row of rows) {
          for (const subscriber of this.#subscribers) {
            if (matchesAuditFilter(row, subscriber.filter)) subscriber.queue.push(row);
          }
        }
      } catch (error) {
        // Fail loudly: subscribers are ended with the error rather than left with a silent gap.
        this.log('Could not read announced audit events', error);
        for (const subscriber of [...this.#subscribers]) {
          subscriber.queue.end(
            new GraphQLError('The audit feed could not read new events; subscribe again.', {
              extensions: { code: SUBSCRIPTION_ENDED },
            }),
          );
        }
      }
    }
  }
}

import type { Kysely } from 'kysely';
import { recordPushes, type PushTally as Tally } from '../../db/queries/connector-activity.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import { CoalescingWrite } from '../coalescing-write.js';
import type { IngestBatch } from '../queue/queues.js';

const pushesNotRecorded: ErrorSource = {
  component: 'writer',
  kind: 'record_pushes',
  level: 'warn',
  message:
    'could not record the pushes committed in Postgres; fleet connector status shows older push figures until it can (the pushes themselves are stored)',
};

/**
 * Counts the pushed updates this writer committed, per connector, and when the newest was received, for `fleet
 * connector status`. Told once per committed push batch, never per delivery; written after the batch's
 * transaction, never in it, one statement at a time for every connector (CoalescingWrite).
 */
export class PushTally {
  private readonly writes: CoalescingWrite<Tally>;

  constructor(db: Kysely<Database>, errors: BackgroundErrors) {
    this.writes = new CoalescingWrite(
      (tallies) => recordPushes(db, tallies),
      (earlier, later) => ({
        connectorId: later.connectorId,
        updates: earlier.updates + later.updates,
        // ISO instants in UTC: their text sorts as their time.
        lastReceivedAt: earlier.lastReceivedAt > later.lastReceivedAt ? earlier.lastReceivedAt : later.lastReceivedAt,
      }),
      (error) => errors.report(pushesNotRecorded, error),
    );
  }

  /** A pushed batch was committed. */
  committed(batch: IngestBatch): void {
    const updates = batch.records.length + batch.deadLetters.length;
    if (batch.origin !== 'push' || updates === 0) return;
    // The gateway stamps each update with its receipt (a record's observedAt, a dead letter's receivedAt).
    let newest = Number.NEGATIVE_INFINITY;
    for (const record of batch.records) newest = Math.max(newest, Date.parse(record.observedAt) || newest);
    for (const letter of batch.deadLetters) newest = Math.max(newest, Date.parse(letter.receivedAt) || newest);
    const lastReceivedAt = new Date(Number.isFinite(newest) ? newest : Date.now()).toISOString();
    this.writes.note(batch.connectorId, { connectorId: batch.connectorId, updates, lastReceivedAt });
  }

  /** Writes what is still unwritten. */
  close(): Promise<void> {
    return this.writes.close();
  }
}

import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordPollRuns, type PollRunOutcome, type PollRunSnapshot } from '../../db/queries/connector-activity.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import { CoalescingWrite } from '../coalescing-write.js';

const progressNotRecorded: ErrorSource = {
  component: 'poller',
  kind: 'record_run_progress',
  level: 'warn',
  message:
    "could not record poll runs' progress in Postgres; fleet connector status shows an older run until it can (the sync itself goes on)",
};

/** What a poll run tells the board: its counts after each page handed over, and how it ended. */
export interface PublishedRun {
  page(counts: { pages: number; records: number; deadLetters: number }): void;
  end(outcome: Exclude<PollRunOutcome, 'running'>): void;
}

/**
 * Publishes the poll runs of this poller, page by page, to Postgres (`connector_activity`) for `fleet connector
 * status`. The run never waits for it: each page only notes the run's counts, and one statement at a time
 * writes the latest of every run (CoalescingWrite), so a busy poller writes less often than once per page, never
 * more. Connectors know nothing of it; a failure to write is told once per interval and costs the sync nothing.
 */
export class PollRunBoard {
  private readonly writes: CoalescingWrite<PollRunSnapshot>;

  constructor(db: Kysely<Database>, errors: BackgroundErrors) {
    this.writes = new CoalescingWrite(
      (runs) => recordPollRuns(db, runs),
      (_earlier, later) => later,
      (error) => errors.report(progressNotRecorded, error),
    );
  }

  /** A run of the connector starts now. */
  begin(connectorId: string): PublishedRun {
    const run: PollRunSnapshot = {
      connectorId,
      runId: randomUUID(),
      startedAt: new Date(),
      lastPageAt: null,
      endedAt: null,
      outcome: 'running',
      pages: 0,
      records: 0,
      deadLetters: 0,
    };
    const publish = (change: Partial<PollRunSnapshot>) => {
      Object.assign(run, change);
      this.writes.note(connectorId, { ...run });
    };
    publish({});
    return {
      page: ({ pages, records, deadLetters }) => publish({ pages, records, deadLetters, lastPageAt: new Date() }),
      end: (outcome) => publish({ outcome, endedAt: new Date() }),
    };
  }

  /** Writes what is still unwritten (the runs that ended at shutdown). */
  close(): Promise<void> {
    return this.writes.close();
  }
}

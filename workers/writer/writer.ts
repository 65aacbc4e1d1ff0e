import { UnrecoverableError, Worker, type Job } from 'bullmq';
import pLimit, { type LimitFunction } from 'p-limit';
import { currentProvinces } from '../../config/provinces.js';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { describeDataError, describePgError, isDataError } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter, type BackgroundErrors } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { IngestMessageError, readIngestJob, type IngestMessage } from '../queue/ingest-message.js';
import { ingestQueueName } from '../queue/queues.js';
import { batchRetryDelay } from './batch-retry-policy.js';
import { settleReadiness } from '../queue/settle-readiness.js';
import { PushTally } from './push-tally.js';
import { writeBatch, type WriteOutcome } from './write-batch.js';

/** Options of the writer. */
export interface WriterOptions {
  /** Batches committed at once; each holds a Postgres connection. Default 2. */
  concurrency?: number;
  /** Redis key prefix of the queues. */
  prefix: string;
  /** Where the queue workers' errors are told. Default: a reporter of its own over `logger` and `metrics`. */
  errors?: BackgroundErrors;
  /**
   * Told when a batch failed for good — a data error its isolation could not get round, or every retry spent —
   * with its queue's province: the failed-batch sweep then moves it from Redis to Postgres. Default: nothing.
   */
  onBatchFailed?: (province: string) => void;
}

/** The connector a job names, for the log: only when it is a plausible id (the job may be anything). */
function connectorOf(data: unknown): string | undefined {
  const connectorId =
    data !== null && typeof data === 'object' ? (data as { connectorId?: unknown }).connectorId : undefined;
  return typeof connectorId === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(connectorId) ? connectorId : undefined;
}

/**
 * Takes ingest batches off the provinces' queues and commits each in one Postgres transaction. Each province's
 * queue has its own BullMQ worker taking one batch at a time, and the commits wait their turn in one FIFO line
 * of `concurrency` places: every province with work gets a place in turn, so a province's backlog of millions
 * does not delay another's fresh update by more than one round. Each job is read against its schema first
 * (workers/queue/ingest-message.ts): one this release cannot read fails for good, untouched, and is kept as a
 * failed batch with the reason.
 */
export class Writer {
  private readonly workers: Worker<IngestMessage, WriteOutcome>[];
  private readonly turns: LimitFunction;
  /** The pushes committed, per connector, for `fleet connector status`. */
  private readonly pushes: PushTally;

  constructor(
    private readonly db: Kysely<Database>,
    connection: Redis,
    private readonly metrics: FleetMetrics,
    private readonly logger: Logger,
    options: WriterOptions,
  ) {
    this.turns = pLimit(options.concurrency ?? 2);
    const errors = options.errors ?? new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
    this.pushes = new PushTally(db, errors);
    this.workers = currentProvinces.map(({ code }) => {
      const worker = new Worker<IngestMessage, WriteOutcome>(
        ingestQueueName(code),
        async (job) => {
          // Read before taking a place in the line: a job this release cannot read never waits for a commit slot.
          const batch = this.read(job, code);
          return this.turns(() => this.process(job, batch));
        },
        {
          connection,
          prefix: options.prefix,
          concurrency: 1,
          autorun: false,
          // A killed writer's batch is taken up again within seconds (at most lockDuration + stalledInterval), not
          // the default half minute: a poller waits for that batch before handing over its connector's next page.
          // The lock is renewed every 3 s, so only an event loop blocked for 6 s makes a live batch look stalled;
          // it is then written twice, which the version guard makes harmless.
          lockDuration: 6_000,
          stalledInterval: 3_000,
          maxStalledCount: 10,
          settings: { backoffStrategy: batchRetryDelay },
        },
      );
      worker.on('error', (error) =>
        errors.report(
          { component: 'writer', kind: 'worker', message: 'writer queue connection error; batches wait for Redis' },
          error,
          { province: code },
        ),
      );
      // BullMQ tells every failed attempt; only a final one (finishedOn set) leaves the batch in the failed set.
      worker.on('failed', (job) => {
        if (job?.finishedOn) options.onBatchFailed?.(code);
      });
      return worker;
    });
  }

  /** Starts taking batches. */
  start(): void {
    for (const worker of this.workers) void worker.run();
  }

  /** Stops taking batches and waits for the current ones to commit. */
  async close(): Promise<void> {
    await settleReadiness(this.workers);
    await Promise.all(this.workers.map((worker) => worker.close()));
    await this.pushes.close();
  }

  /** Reads a job's data as a batch of this release; one it cannot read fails for good, before any database work. */
  private read(job: Job<IngestMessage, WriteOutcome>, queueProvince: string): IngestMessage {
    try {
      return readIngestJob(job.name, job.data);
    } catch (error) {
      if (!(error instanceof IngestMessageError)) throw error;
      this.metrics.writeFailures.inc({ province: queueProvince });
      // The reason names the version, paths and expectations; never a value of the job.
      this.logger.error(
        { province: queueProvince, connector: connectorOf(job.data), batch: job.id, err: error.message },
        'ingest batch refused: not a batch this writer reads; kept as a failed batch',
      );
      throw new UnrecoverableError(error.message);
    }
  }

  private async process(job: Job<IngestMessage, WriteOutcome>, batch: IngestMessage): Promise<WriteOutcome> {
    const province = batch.provinceCode;
    const stopTimer = this.metrics.writeBatchDuration.startTimer();
    try {
      const startedAt = process.hrtime.bigint();
      const outcome = await writeBatch(this.db, batch).catch((error: unknown) => {
        this.metrics.operationDuration.observe(
          { stage: 'write', outcome: 'error' },
          Number(process.hrtime.bigint() - startedAt) / 1e9,
        );
        throw error;
      });
      stopTimer();
      this.metrics.operationDuration.observe(
        { stage: 'write', outcome: 'ok' },
        Number(process.hrtime.bigint() - startedAt) / 1e9,
      );
      const committedAt = Date.now();
      // Live changes only: a backfill's or a repair's records are old by design and no service level's.
      if (!batch.backfill && !batch.reconcile && !batch.replayedDeadLetters) {
        for (const record of batch.records)
          this.metrics.commitLag.observe(
            { province, origin: batch.origin },
            Math.max(0, committedAt - Date.parse(record.sourceUpdatedAt)) / 1000,
          );
      }
      if (batch.origin === 'push')
        this.metrics.connectorLastSync.set({ province, connector: batch.connectorId }, committedAt / 1000);
      this.metrics.recordsWritten.inc({ province, outcome: 'inserted' }, outcome.inserted);
      this.metrics.recordsWritten.inc({ province, outcome: 'updated' }, outcome.updated);
      this.metrics.recordsWritten.inc({ province, outcome: 'unchanged' }, outcome.unchanged);
      for (const letter of batch.deadLetters) this.metrics.recordsRejected.inc({ province, reason: letter.reason });
      if (outcome.unstorable > 0)
        this.metrics.recordsRejected.inc({ province, reason: 'unstorable' }, outcome.unstorable);
      // After the commit, by the rows the batch actually added (a redelivered batch's anomalies are not again).
      for (const { connectorId, kind, count } of outcome.anomalies)
        this.metrics.anomalies.inc({ connector: connectorId, kind }, count);
      if (batch.origin === 'push') {
        this.pushes.committed(batch);
        // A pushed (webhook) batch: each record's time from receipt by the gateway to this commit.
        for (const record of batch.records)
          this.metrics.webhookLatency.observe(
            { province },
            Math.max(0, committedAt - Date.parse(record.observedAt)) / 1000,
          );
      }
      return outcome;
    } catch (error) {
      this.metrics.writeFailures.inc({ province });
      // A data error got past the isolation of refused records (the cursor move itself was refused): no retry
      // can fix it. Its description names the SQLSTATE and column, never the value Postgres's message quotes.
      const permanent = isDataError(error);
      const description = permanent ? describeDataError(error) : describePgError(error);
      this.logger.error(
        {
          province,
          connector: batch.connectorId,
          batch: job.id,
          attempt: job.attemptsMade + 1,
          records: batch.records.length,
          err: description,
        },
        permanent
          ? 'ingest batch refused by Postgres; kept as a failed batch'
          : 'ingest batch failed and was rolled back; it will be retried',
      );
      if (permanent) throw new UnrecoverableError(description);
      throw error;
    }
  }
}

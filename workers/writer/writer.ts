import { UnrecoverableError, Worker, type Job } from 'bullmq';
import pLimit, { type LimitFunction } from 'p-limit';
import { currentProvinces } from '../../config/provinces.js';
import type { RedisConnection } from '../redis.js';
import type { Kysely } from 'kysely';
import { describeDataError, describePgError, isDataError } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter, type BackgroundErrors } from '../background-error-reporter.js';
import { jobLogger, type Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { IngestMessageError, readIngestJob, type IngestMessage } from '../queue/ingest-message.js';
import { ingestQueueName } from '../queue/queues.js';
import { batchRetryDelay } from './batch-retry-policy.js';
import { settleReadiness } from '../queue/settle-readiness.js';
import { PushTally } from './push-tally.js';
import { writeBatch, writeGroup, type WriteOutcome } from './write-batch.js';

/** Options of the writer. */
export interface WriterOptions {
  /** Batches committed at once; each holds a Postgres connection. Default 2. */
  concurrency?: number;
  /** Redis key prefix of the queues. */
  prefix: string;
  /**
   * Batches of one province's queue committed together in one transaction, at most (group commit): when the queue
   * holds several, the writer takes them at once, so a busier province gets larger transactions instead of a longer
   * line (WRITER_GROUP_BATCHES). Default 8.
   */
  maxGroupBatches?: number;
  /**
   * Records of one group commit, at most (WRITER_GROUP_RECORDS): no further batch is taken once a group holds this
   * many. Default 8,000.
   */
  maxGroupRecords?: number;
  /**
   * Groups of one province's queue taken at once, each its own transaction, while the line has a free place
   * (WRITER_PROVINCE_CONCURRENCY): one busy province can then use every place of the line. When commits wait for a
   * place, each province takes one at a time again, since a batch taken waits in memory for its turn. Their commit
   * order does not matter: the version guard decides each dossier's state, and a cursor moves only past pages
   * committed, in order. Default 1.
   */
  provinceConcurrency?: number;
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
 * queue has its own BullMQ worker taking one batch at a time (`provinceConcurrency` while the line has a free
 * place), and the commits wait their turn in one FIFO line of `concurrency` places: every province with work gets
 * its places in turn, so a province's backlog of millions does not delay another's fresh update by more than one
 * round. Each job is read against its schema first (workers/queue/ingest-message.ts): one this release cannot read
 * fails for good, untouched, and is kept as a failed batch with the reason.
 */
export class Writer {
  private readonly workers: Worker<IngestMessage, WriteOutcome>[];
  private readonly turns: LimitFunction;
  /** The pushes committed, per connector, for `fleet connector status`. */
  private readonly pushes: PushTally;
  private readonly maxGroupBatches: number;
  private readonly maxGroupRecords: number;
  private readonly onBatchFailed: (province: string) => void;
  private readonly provinceConcurrency: number;

  constructor(
    private readonly db: Kysely<Database>,
    connection: RedisConnection,
    private readonly metrics: FleetMetrics,
    private readonly logger: Logger,
    options: WriterOptions,
  ) {
    this.turns = pLimit(options.concurrency ?? 2);
    this.maxGroupBatches = Math.max(1, options.maxGroupBatches ?? 8);
    this.maxGroupRecords = options.maxGroupRecords ?? 8000;
    this.provinceConcurrency = Math.max(1, options.provinceConcurrency ?? 1);
    this.onBatchFailed = options.onBatchFailed ?? (() => {});
    const errors = options.errors ?? new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
    this.pushes = new PushTally(db, errors);
    this.workers = currentProvinces.map(({ code }) => {
      const worker: Worker<IngestMessage, WriteOutcome> = new Worker<IngestMessage, WriteOutcome>(
        ingestQueueName(code),
        async (job, token): Promise<WriteOutcome> => {
          // Read before taking a place in the line: a job this release cannot read never waits for a commit slot.
          const batch = this.read(job, code);
          const turn = this.turns(() => this.processGroup(worker, job, token, batch, code));
          this.fitProvinceConcurrency();
          try {
            return await turn;
          } finally {
            this.fitProvinceConcurrency();
          }
        },
        {
          connection,
          prefix: options.prefix,
          concurrency: this.provinceConcurrency,
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

  /**
   * Lets each province's worker take `provinceConcurrency` batches while no commit waits for a place in the line,
   * one when some do: with many provinces busy, a second batch per province would only wait in memory.
   */
  private fitProvinceConcurrency(): void {
    const concurrency = this.turns.pendingCount > 0 ? 1 : this.provinceConcurrency;
    for (const worker of this.workers) if (worker.concurrency !== concurrency) worker.concurrency = concurrency;
  }

  /**
   * Reads a job's data as a batch of this release, kept as its data; one it cannot read fails for good, before any
   * database work.
   */
  private read(job: Job<IngestMessage, WriteOutcome>, queueProvince: string): IngestMessage {
    try {
      const batch = readIngestJob(job.name, job.data);
      // The schema's read is a copy: the job keeps it instead of the parsed JSON, so a batch waiting for its turn
      // or its group holds its records once, not twice (34 provinces' batches wait in a writer at once).
      job.data = batch;
      return batch;
    } catch (error) {
      if (!(error instanceof IngestMessageError)) throw error;
      this.metrics.writeFailures.inc({ province: queueProvince });
      // The reason names the version, paths and expectations; never a value of the job.
      jobLogger(this.logger, 'write', { province: queueProvince, connector: connectorOf(job.data), job: job.id }).error(
        { err: error.message },
        'ingest batch refused: not a batch this writer reads; kept as a failed batch',
      );
      throw new UnrecoverableError(error.message);
    }
  }

  /**
   * Commits a batch together with the batches waiting behind it in its province's queue (group commit), taken
   * with the job's own token, in queue order. The group is one transaction; if it fails for any reason, each
   * batch is committed alone as if there had been no group (its isolation of refused records, its retries, its
   * failed-batch keeping), so a bad batch never fails the others.
   */
  private async processGroup(
    worker: Worker<IngestMessage, WriteOutcome>,
    job: Job<IngestMessage, WriteOutcome>,
    token: string | undefined,
    batch: IngestMessage,
    province: string,
  ): Promise<WriteOutcome> {
    if (token === undefined || this.maxGroupBatches === 1) return this.process(job, batch);
    const more: { job: Job<IngestMessage, WriteOutcome>; batch: IngestMessage }[] = [];
    let records = batch.records.length;
    while (more.length + 1 < this.maxGroupBatches && records < this.maxGroupRecords) {
      const next = (await worker.getNextJob(token, { block: false })) as Job<IngestMessage, WriteOutcome> | undefined;
      if (!next) break;
      try {
        more.push({ job: next, batch: this.read(next, province) });
        records += more.at(-1)!.batch.records.length;
      } catch (error) {
        await this.finish(next, token, province, Promise.reject(error));
      }
    }
    if (more.length === 0) return this.process(job, batch);
    // The worker renews only the lock of the job it runs: the others' locks are renewed here while they are written.
    const renewal = setInterval(() => {
      for (const taken of more) taken.job.extendLock(token, 6_000).catch(() => {});
    }, 2_000);
    try {
      const stopTimer = this.metrics.writeBatchDuration.startTimer();
      const startedAt = process.hrtime.bigint();
      let outcomes: WriteOutcome[] | undefined;
      try {
        outcomes = await writeGroup(this.db, [batch, ...more.map((taken) => taken.batch)]);
        stopTimer();
        this.metrics.operationDuration.observe(
          { stage: 'write', outcome: 'ok' },
          Number(process.hrtime.bigint() - startedAt) / 1e9,
        );
      } catch {
        // Committed one by one below, each with its own isolation, retries and failure (and their durations).
      }
      if (outcomes) {
        this.count(job, batch, outcomes[0]!, more.length + 1);
        for (const [index, taken] of more.entries()) {
          this.count(taken.job, taken.batch, outcomes[index + 1]!, more.length + 1);
          await this.finish(taken.job, token, province, Promise.resolve(outcomes[index + 1]!));
        }
        return outcomes[0]!;
      }
      for (const taken of more) await this.finish(taken.job, token, province, this.process(taken.job, taken.batch));
      return await this.process(job, batch);
    } finally {
      clearInterval(renewal);
    }
  }

  /** Counts a committed batch in the metrics (and a push in the tally), after its commit, and logs it (debug). */
  private count(job: Job<IngestMessage, WriteOutcome>, batch: IngestMessage, outcome: WriteOutcome, group = 1): void {
    const province = batch.provinceCode;
    const committedAt = Date.now();
    if (this.logger.isLevelEnabled('debug'))
      jobLogger(this.logger, 'write', { province, connector: batch.connectorId, job: job.id }).debug(
        {
          origin: batch.origin,
          records: batch.records.length,
          deadLetters: batch.deadLetters.length,
          inserted: outcome.inserted,
          updated: outcome.updated,
          unchanged: outcome.unchanged,
          unstorable: outcome.unstorable,
          group,
        },
        'ingest batch committed',
      );
    // Live changes only: a backfill's or a repair's records are old by design and no service level's.
    // The histogram's child is looked up once a batch: by labels, each record would hash them again.
    if (!batch.backfill && !batch.reconcile && !batch.replayedDeadLetters) {
      const commitLag = this.metrics.commitLag.labels({ province, origin: batch.origin });
      for (const record of batch.records)
        commitLag.observe(Math.max(0, committedAt - Date.parse(record.sourceUpdatedAt)) / 1000);
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
      const webhookLatency = this.metrics.webhookLatency.labels({ province });
      for (const record of batch.records)
        webhookLatency.observe(Math.max(0, committedAt - Date.parse(record.observedAt)) / 1000);
    }
  }

  /** Completes or fails a job taken into a group, as the worker does with the job it runs. Never throws. */
  private async finish(
    job: Job<IngestMessage, WriteOutcome>,
    token: string,
    province: string,
    written: Promise<WriteOutcome>,
  ): Promise<void> {
    try {
      const outcome = await written.catch(async (error: unknown) => {
        await job.moveToFailed(error instanceof Error ? error : new Error(String(error)), token, false);
        if (job.finishedOn) this.onBatchFailed(province);
        return undefined;
      });
      if (outcome) await job.moveToCompleted(outcome, token, false);
    } catch (error) {
      // The job's lock was lost (it looked stalled): it is taken up again and written again, which the version
      // guard and the cursor's exact-position move make harmless.
      jobLogger(this.logger, 'write', { province, connector: connectorOf(job.data), job: job.id }).warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not settle a batch of a group commit; it will be taken up again',
      );
    }
  }

  private async process(job: Job<IngestMessage, WriteOutcome>, batch: IngestMessage): Promise<WriteOutcome> {
    const province = batch.provinceCode;
    const log = jobLogger(this.logger, 'write', { province, connector: batch.connectorId, job: job.id });
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
      this.count(job, batch, outcome);
      return outcome;
    } catch (error) {
      this.metrics.writeFailures.inc({ province });
      // A data error got past the isolation of refused records (the cursor move itself was refused): no retry
      // can fix it. Its description names the SQLSTATE and column, never the value Postgres's message quotes.
      const permanent = isDataError(error);
      const description = permanent ? describeDataError(error) : describePgError(error);
      log.error(
        {
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

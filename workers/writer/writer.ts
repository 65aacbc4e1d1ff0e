import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { describePgError } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { queueNames, type IngestBatch } from '../queues.js';
import { retryDelay } from '../../connectors/sdk/retry-policy.js';
import { writeBatch, type WriteOutcome } from './write-batch.js';

/** Options of the writer. */
export interface WriterOptions {
  /** Batches committed at once; each holds a Postgres connection. Default 2. */
  concurrency?: number;
  /** Redis key prefix of the queues. */
  prefix: string;
}

/**
 * Postgres error classes that no retry can fix: data exceptions (22) and integrity violations (23). Anything
 * else — a lost connection, a restart, a deadlock, a serialization failure — is retried whole.
 */
function isPermanent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Takes ingest batches off the queue and commits each in one Postgres transaction. */
export class Writer {
  private readonly worker: Worker<IngestBatch, WriteOutcome>;

  constructor(
    private readonly db: Kysely<Database>,
    connection: Redis,
    private readonly metrics: FleetMetrics,
    private readonly logger: Logger,
    options: WriterOptions,
  ) {
    this.worker = new Worker<IngestBatch, WriteOutcome>(queueNames.ingest, (job) => this.process(job), {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 2,
      autorun: false,
      settings: { backoffStrategy: (attemptsMade: number) => retryDelay(attemptsMade) },
    });
    this.worker.on('error', (error) => this.logger.error({ err: error.message }, 'writer queue connection error'));
  }

  /** Starts taking batches. */
  start(): void {
    void this.worker.run();
  }

  /** Stops taking batches and waits for the current ones to commit. */
  async close(): Promise<void> {
    await this.worker.close();
  }

  private async process(job: Job<IngestBatch, WriteOutcome>): Promise<WriteOutcome> {
    const batch = job.data;
    const province = batch.provinceCode;
    const stopTimer = this.metrics.writeBatchDuration.startTimer();
    try {
      const outcome = await writeBatch(this.db, batch);
      stopTimer();
      this.metrics.recordsWritten.inc({ province, outcome: 'inserted' }, outcome.inserted);
      this.metrics.recordsWritten.inc({ province, outcome: 'updated' }, outcome.updated);
      this.metrics.recordsWritten.inc({ province, outcome: 'unchanged' }, outcome.unchanged);
      for (const letter of batch.deadLetters) this.metrics.recordsRejected.inc({ province, reason: letter.reason });
      return outcome;
    } catch (error) {
      this.metrics.writeFailures.inc({ province });
      const permanent = isPermanent(error);
      this.logger.error(
        { province, connector: batch.connectorId, batch: job.id, attempt: job.attemptsMade + 1, records: batch.records.length, err: describePgError(error) },
        permanent ? 'ingest batch refused by Postgres; kept in the failed set' : 'ingest batch failed and was rolled back; it will be retried',
      );
      if (permanent) throw new UnrecoverableError(describePgError(error));
      throw error;
    }
  }
}

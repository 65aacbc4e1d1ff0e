import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, type IngestBatch } from './queues.js';
import { retryPolicy } from '../connectors/sdk/retry-policy.js';
import type { WriteOutcome } from './writer/write-batch.js';

/** The writer did not commit a batch in time, or gave up on it. */
export class BatchNotCommittedError extends Error {
  override readonly name = 'BatchNotCommittedError';
}

/**
 * The producer side of the ingest queue: adds batches, and lets a poller wait until a batch is committed
 * (the next page of a connector is handed over only after the previous one, so cursor moves stay in order).
 */
export class IngestQueue {
  /** The BullMQ queue, for depth metrics. */
  readonly queue: Queue<IngestBatch, WriteOutcome>;
  private events: QueueEvents | null = null;
  private eventsConnection: Redis | null = null;

  constructor(
    connection: Redis,
    private readonly prefix: string,
    /** Opens a dedicated connection for queue events (they block on a Redis stream). */
    private readonly openConnection: () => Redis,
  ) {
    this.queue = new Queue<IngestBatch, WriteOutcome>(queueNames.ingest, {
      connection,
      prefix,
      defaultJobOptions: {
        attempts: retryPolicy.attempts,
        backoff: { type: 'jittered' },
        // Completed batches are of no use once committed; failed ones are kept for an operator to inspect.
        removeOnComplete: { age: 600, count: 1000 },
        removeOnFail: false,
      },
    });
  }

  /** Adds a batch; resolves once Redis has acknowledged it (the batch is then durable in the queue). */
  async add(batch: IngestBatch): Promise<Job<IngestBatch, WriteOutcome>> {
    return this.queue.add('batch', batch);
  }

  /**
   * Adds a batch and resolves with what the writer did once it is committed. Besides the queue's events, the
   * job is looked at every `checkEveryMs`: a batch that vanished (Redis restarted empty) fails the wait at once,
   * so the poll run ends and the next one resumes from the cursor committed in Postgres.
   */
  async addAndWait(batch: IngestBatch, timeoutMs: number, checkEveryMs = 1000): Promise<WriteOutcome> {
    const events = await this.queueEvents();
    const job = await this.add(batch);
    let timer: NodeJS.Timeout | undefined;
    const watched = new Promise<WriteOutcome>((resolve, reject) => {
      timer = setInterval(() => {
        this.queue
          .getJobState(job.id!)
          .then(async (state) => {
            if (state === 'unknown') reject(new Error('the batch vanished from the queue (Redis lost its data?)'));
            if (state === 'completed') resolve((await this.queue.getJob(job.id!))?.returnvalue as WriteOutcome);
            if (state === 'failed') reject(new Error((await this.queue.getJob(job.id!))?.failedReason ?? 'failed'));
          })
          .catch(() => {});
      }, checkEveryMs);
    });
    try {
      return await Promise.race([job.waitUntilFinished(events, timeoutMs), watched]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BatchNotCommittedError(`batch ${job.id} of connector ${batch.connectorId} was not committed: ${reason}`);
    } finally {
      clearInterval(timer);
    }
  }

  private async queueEvents(): Promise<QueueEvents> {
    if (!this.events) {
      this.eventsConnection = this.openConnection();
      this.events = new QueueEvents(queueNames.ingest, { connection: this.eventsConnection, prefix: this.prefix });
      await this.events.waitUntilReady();
    }
    return this.events;
  }

  /** Closes the queue and its event stream. */
  async close(): Promise<void> {
    await this.events?.close();
    this.eventsConnection?.disconnect();
    await this.queue.close();
  }
}

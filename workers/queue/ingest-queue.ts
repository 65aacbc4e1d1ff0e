import { Queue, QueueEvents, type Job } from 'bullmq';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import { assertRedisReachable, createRedis, type RedisConnection } from '../redis.js';
import { ingestMessageOf, type IngestBatch, type IngestJobName, type IngestMessage } from './ingest-message.js';
import { ingestQueueName } from './queues.js';
import { settleReadiness } from './settle-readiness.js';
import type { WriteOutcome } from '../writer/write-batch.js';

/** The writer did not commit a batch in time, or gave up on it. */
export class BatchNotCommittedError extends Error {
  override readonly name = 'BatchNotCommittedError';
}

/** The current province a batch is queued under: its records' own (they are resolved already), else the connector's. */
export function queueProvinceOf(batch: IngestBatch): string {
  return batch.records[0]?.provinceCode ?? batch.provinceCode;
}

/**
 * How often a batch is tried before it is kept in the failed set: 30 attempts, at the writer's delays
 * (workers/writer/batch-retry-policy.ts, the `jittered` strategy), are about 25 minutes of retrying — a Postgres
 * restart or failover passes well within them.
 */
export const ingestJobRetries = { attempts: 30, backoff: { type: 'jittered' } } as const;

/**
 * The priority a backfill's batch is queued with. A BullMQ worker takes its queue's waiting jobs (queued without a
 * priority: every live poll and push batch) before any prioritised one (its moveToActive script empties the wait
 * list first), so a backfill's batch is written only when no live batch of its province waits: a backfill never
 * delays the live sync by more than the one batch being written.
 */
export const backfillJobPriority = 10;

/** How a batch is queued: a backfill's behind the live ones. */
function jobOptionsOf(batch: IngestBatch): { priority?: number } {
  return batch.backfill ? { priority: backfillJobPriority } : {};
}

/** The one job name of ingest batches (workers/queue/ingest-message.ts). */
const batchJob: IngestJobName = 'batch';

const queueError: ErrorSource = {
  component: 'ingest_queue',
  kind: 'queue',
  message: 'ingest queue error; adding batches waits for Redis (pollers wait, webhooks answer 503)',
};
const eventsError: ErrorSource = {
  component: 'queue_events',
  kind: 'queue',
  message: 'ingest queue events error; pollers waiting for a commit also look at the job itself, every 15 s',
};

/**
 * The producer side of the ingest queues — one per province, so that one province's backlog does not delay
 * another's fresh updates: adds batches, and lets a poller wait until a batch is committed (the next page of a
 * connector is handed over only after the previous one, so cursor moves stay in order).
 */
export class IngestQueue {
  private readonly queues = new Map<string, Queue<IngestMessage, WriteOutcome>>();
  private readonly events = new Map<string, { events: QueueEvents; connection: RedisConnection }>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
    /** Opens a dedicated connection for queue events (they block on a Redis stream). */
    private readonly openConnection: () => RedisConnection,
    /** Where the queues' and event streams' errors are told (a Redis outage: logged, rate-limited, and counted). */
    private readonly errors: BackgroundErrors,
    /** Called once everything is closed (connections the queue owns: `openIngestQueue`). */
    private readonly onClosed: () => void = () => {},
    /**
     * Committed batches each province's queue keeps (INGEST_KEPT_COMPLETED_BATCHES). Default 3. Kept whole for 1,000
     * (and 10 minutes), they were Redis's largest cost: `fleet bench` at N = 1,000,000 peaked 686 MB above its
     * start, ≈ 700 B per record of N.
     */
    private readonly keptCompletedBatches = 3,
  ) {}

  /** The queue of one province, created on first use. */
  queueOf(province: string): Queue<IngestMessage, WriteOutcome> {
    let queue = this.queues.get(province);
    if (!queue) {
      queue = new Queue<IngestMessage, WriteOutcome>(ingestQueueName(province), {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: {
          ...ingestJobRetries,
          // A completed batch holds its records (hundreds of KiB) and is of no use once committed, except to a wait
          // that missed its event (addAndWait looks at the job every 15 s): the last few of each province are kept
          // for it, so Redis holds at most provinces × keptCompletedBatches batches past their commit, whatever N
          // (a wait whose batch is gone fails, and its run resumes from the committed cursor). Failed batches stay
          // until the writer's failed-batch sweep has kept them in Postgres (failed_batches), then it removes them.
          removeOnComplete: { age: 600, count: this.keptCompletedBatches },
          removeOnFail: false,
        },
      });
      // Connection errors are the connection's to retry; an unheard 'error' event would crash the process.
      queue.on('error', (error) => this.errors.report(queueError, error, { queue: ingestQueueName(province) }));
      this.queues.set(province, queue);
    }
    return queue;
  }

  /**
   * Adds a batch to its province's queue, stamped with its version (`ingestMessageOf`); resolves once Redis has
   * acknowledged it (the batch is then durable).
   */
  async add(batch: IngestBatch): Promise<Job<IngestMessage, WriteOutcome>> {
    return this.queueOf(queueProvinceOf(batch)).add(batchJob, ingestMessageOf(batch), jobOptionsOf(batch));
  }

  /**
   * Adds a kept batch (`fleet failed-batch retry`) to the queue of the province that held it, as it was kept: its
   * version stays (a batch of another release is never read as one of this one), and a shape the writer refused
   * is refused again and kept again, never misread. Resolves once Redis has acknowledged it.
   */
  async requeue(province: string, kept: object): Promise<Job<IngestMessage, WriteOutcome>> {
    return this.queueOf(province).add(batchJob, kept as IngestMessage);
  }

  /**
   * Adds a batch and resolves with what the writer did once it is committed. The wait is the queue's `completed`
   * or `failed` event (QueueEvents), not a poll of the job. Only for an event that never comes (the events stream
   * was trimmed, or Redis restarted empty) is the job itself looked at, every `checkEveryMs` (default 15 s): a
   * batch that vanished fails the wait then, so the poll run ends and the next one resumes from the cursor
   * committed in Postgres.
   *
   * For batches that can be read again (a poll page): when the wait fails, a batch still waiting in the queue (or
   * waiting to be retried) is taken off it — the next run reads its records again from the committed cursor, so
   * runs that keep failing do not leave one more batch in Redis each. A batch being written is left to finish,
   * and one that failed for good is the failed-batch sweep's to keep.
   */
  addAndWait(batch: IngestBatch, timeoutMs: number, checkEveryMs = 15_000): Promise<WriteOutcome> {
    // Not an async function over the whole wait: a suspended async function keeps its parameters, and the batch's
    // records are only needed until Redis has them (a poller of 34 connectors, 4 pages each in flight, held 136
    // pages of records so). The wait holds the job's id and its connector, nothing of the records.
    const { connectorId } = batch;
    return this.addForWait(batch).then(({ queue, events, job }) =>
      this.waitForCommit(queue, events, job, connectorId, timeoutMs, checkEveryMs),
    );
  }

  /** Adds a batch to be waited for, and returns the job with its records dropped (they are in Redis). */
  private async addForWait(batch: IngestBatch) {
    const province = queueProvinceOf(batch);
    const queue = this.queueOf(province);
    const events = await this.queueEvents(province);
    const job = await queue.add(batchJob, ingestMessageOf(batch), jobOptionsOf(batch));
    job.data = { ...job.data, records: [], deadLetters: [] };
    return { queue, events, job };
  }

  private async waitForCommit(
    queue: Queue<IngestMessage, WriteOutcome>,
    events: QueueEvents,
    job: Job<IngestMessage, WriteOutcome>,
    connectorId: string,
    timeoutMs: number,
    checkEveryMs: number,
  ): Promise<WriteOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const watched = new Promise<WriteOutcome>((resolve, reject) => {
      timer = setInterval(() => {
        queue
          .getJobState(job.id!)
          .then(async (state) => {
            if (state === 'unknown') reject(new Error('the batch vanished from the queue (Redis lost its data?)'));
            if (state === 'completed') resolve((await queue.getJob(job.id!))?.returnvalue as WriteOutcome);
            if (state === 'failed') reject(new Error((await queue.getJob(job.id!))?.failedReason ?? 'failed'));
          })
          .catch(() => {});
      }, checkEveryMs);
    });
    const finished = job.waitUntilFinished(events, timeoutMs);
    // Whichever loses the race may still settle later: it must not become an unhandled rejection.
    finished.catch(() => {});
    watched.catch(() => {});
    try {
      return await Promise.race([finished, watched]);
    } catch (error) {
      await this.abandon(queue, job.id!);
      const reason = error instanceof Error ? error.message : String(error);
      throw new BatchNotCommittedError(`batch ${job.id} of connector ${connectorId} was not committed: ${reason}`);
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Removes a job nobody waits for any more, unless it is finished. A job being retried is active only for its
   * attempt, so one found active is tried again a few times; one still active after that is being written, and
   * finishes as any other. Never throws.
   */
  private async abandon(queue: Queue<IngestMessage, WriteOutcome>, jobId: string, tries = 10): Promise<void> {
    for (let attempt = 1; attempt <= tries; attempt++) {
      try {
        const state = await queue.getJobState(jobId);
        if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized' && state !== 'active') return;
        // Removal refuses a job a writer holds (active): it is tried again after the attempt.
        if (state !== 'active' && (await queue.remove(jobId)) === 1) return;
      } catch {
        // The job was taken meanwhile, or Redis is unavailable: try again, then leave it.
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  /** Jobs waiting, active, delayed and failed, over every province's queue this producer used. */
  async jobCounts(): Promise<Record<string, number>> {
    const total: Record<string, number> = {};
    for (const queue of this.queues.values()) {
      for (const [state, count] of Object.entries(
        await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'completed'),
      ))
        total[state] = (total[state] ?? 0) + count;
    }
    return total;
  }

  private async queueEvents(province: string): Promise<QueueEvents> {
    let entry = this.events.get(province);
    if (!entry) {
      const connection = this.openConnection();
      entry = { events: new QueueEvents(ingestQueueName(province), { connection, prefix: this.prefix }), connection };
      entry.events.on('error', (error) => this.errors.report(eventsError, error, { queue: ingestQueueName(province) }));
      this.events.set(province, entry);
      await entry.events.waitUntilReady();
    }
    return entry.events;
  }

  /**
   * Closes every queue and event stream, all at once. An event stream's own connection is cut first: its
   * blocking read would otherwise hold `close` for up to its block timeout, once per province.
   */
  async close(): Promise<void> {
    await settleReadiness([...this.queues.values(), ...[...this.events.values()].map(({ events }) => events)]);
    await Promise.all(
      [...this.events.values()].map(async ({ events, connection }) => {
        connection.disconnect();
        await events.close().catch(() => {});
      }),
    );
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.onClosed();
  }
}

/**
 * An ingest queue over connections of its own, which `close` ends: for a command that hands batches to the
 * writer and exits (`fleet failed-batch retry`, `fleet dlq replay`). Fails at once when Redis does not answer.
 */
export async function openIngestQueue(
  redisUrl: string,
  prefix: string,
  errors: BackgroundErrors,
  keptCompletedBatches?: number,
): Promise<IngestQueue> {
  await assertRedisReachable(redisUrl);
  const connections: RedisConnection[] = [];
  const connect = () => {
    const connection = createRedis(redisUrl);
    connections.push(connection);
    return connection;
  };
  return new IngestQueue(
    connect(),
    prefix,
    connect,
    errors,
    () => {
      for (const connection of connections) connection.disconnect();
    },
    keptCompletedBatches,
  );
}

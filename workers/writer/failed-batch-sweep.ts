import type { Kysely } from 'kysely';
import { describePgError } from '../../db/database.js';
import { keepFailedBatch, type KeptBatch } from '../../db/queries/insert-failed-batch.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../logger.js';

/** A job in a queue's failed set, as the sweep needs it. */
export interface FailedJob {
  id?: string;
  /** Its data: an ingest batch, or what a producer of another release queued (the writer refused it for that). */
  data: unknown;
  failedReason: string;
  attemptsMade: number;
  /** When it was created and when it failed for good (ms since 1970). */
  timestamp: number;
  finishedOn?: number;
  remove(): Promise<void>;
}

/** A province's ingest queue, as the sweep reads it: BullMQ's failed set. */
export interface FailedJobSource {
  readonly name: string;
  getFailed(start?: number, end?: number): Promise<FailedJob[]>;
}

/** Where the sweep counts what it moved. */
export interface FailedBatchCounter {
  inc(labels: { province: string }, value?: number): void;
}

/** Options of the sweep. */
export interface FailedBatchSweepOptions {
  /** How often every queue's failed set is looked at, besides right after a batch failed. Default 30 000 ms. */
  intervalMs?: number;
  /** Jobs taken from one queue at a time. Default 50. */
  pageSize?: number;
}

/**
 * Moves batches the writer gave up on from BullMQ's failed sets into Postgres (`failed_batches`), where `fleet
 * failed-batch` lists, retries and discards them, and removes them from Redis once stored: Redis then holds only
 * the work in flight. It runs right after a batch failed and every `intervalMs`, so a batch that failed because
 * Postgres was down (the usual reason) waits in Redis until Postgres is back, then moves — it is never lost.
 */
export class FailedBatchSweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private again = false;
  private closed = false;
  private readonly intervalMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly db: Kysely<Database>,
    /** Each current province's ingest queue. */
    private readonly queues: readonly { province: string; queue: FailedJobSource }[],
    private readonly failedBatches: FailedBatchCounter,
    private readonly logger: Logger,
    options: FailedBatchSweepOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 30_000;
    this.pageSize = options.pageSize ?? 50;
  }

  /** Sweeps now (jobs left by a process that stopped), then every `intervalMs`. */
  start(): void {
    this.soon();
    this.timer = setInterval(() => this.soon(), this.intervalMs);
    this.timer.unref();
  }

  /** Sweeps as soon as the sweep in progress, if any, is done. */
  soon(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sweep().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.soon();
      }
    });
  }

  /** Stops sweeping and waits for the sweep in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every queue; returns how many batches it moved. Never throws: what it could not move stays. */
  async sweep(): Promise<number> {
    let moved = 0;
    for (const { province, queue } of this.queues) {
      try {
        moved += await this.sweepQueue(province, queue);
      } catch (error) {
        this.logger.warn(
          { province, err: describePgError(error) },
          'failed batches could not be moved to Postgres yet; they stay in Redis until the next sweep',
        );
      }
    }
    return moved;
  }

  private async sweepQueue(province: string, queue: FailedJobSource): Promise<number> {
    let moved = 0;
    const seen = new Set<string>();
    for (;;) {
      // A job that could not be removed comes back in the next page: the pass ends rather than loop on it.
      const jobs = (await queue.getFailed(0, this.pageSize - 1)).filter(
        (job) => !seen.has(`${job.id}:${job.timestamp}`),
      );
      if (jobs.length === 0) return moved;
      for (const job of jobs) {
        seen.add(`${job.id}:${job.timestamp}`);
        // A job may hold no batch at all (its data lost): there is nothing to keep.
        if (job.data && typeof job.data === 'object') {
          const batch = job.data as KeptBatch;
          const kept = await keepFailedBatch(this.db, {
            provinceCode: province,
            batch,
            error: job.failedReason || 'failed without a reason',
            attempts: job.attemptsMade,
            failedAt: new Date(job.finishedOn ?? Date.now()),
            job: `${queue.name}:${job.id ?? '?'}:${job.timestamp}`,
          });
          if (kept.counted) this.failedBatches.inc({ province });
          this.logger.error(
            {
              province,
              connector: typeof batch.connectorId === 'string' ? batch.connectorId.slice(0, 63) : undefined,
              failedBatch: kept.id,
              attempts: job.attemptsMade,
              err: job.failedReason,
            },
            'ingest batch failed for good; kept in failed_batches (fleet failed-batch list)',
          );
        }
        // Another sweeper may have removed it meanwhile: it is kept either way.
        await job.remove().catch(() => {});
        moved += 1;
      }
      if (this.closed) return moved;
    }
  }
}

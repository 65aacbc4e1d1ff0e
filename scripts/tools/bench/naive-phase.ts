// The naive baseline limits.md warns against, measured in the same run: one BullMQ job per record, and a worker
// that stores each job's record with one upsert statement (the project's own upsert, given a batch of one).

import { Queue, Worker } from 'bullmq';
import type { Config } from '../../../config/env.js';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import { createDatabase } from '../../../db/database.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import { createRedis } from '../../../workers/redis.js';
import { Progress } from '../../cli/progress.js';

/** What the naive phase measured. */
export interface NaiveFigures {
  records: number;
  seconds: number;
  recordsPerSecond: number;
}

/**
 * Queues `records` one job each (added in bulks of 500, so the producer is not what is measured) while a worker of
 * `concurrency` (the fleet writer's WRITER_CONCURRENCY, for a like-for-like comparison) upserts them one by one;
 * the clock runs from the first job added to the last one done.
 */
export async function naivePhase(
  config: Config,
  records: readonly DossierRecord[],
  progress: Progress,
): Promise<NaiveFigures> {
  const db = createDatabase(config.DATABASE_URL, { maxConnections: config.WRITER_CONCURRENCY });
  const queueConnection = createRedis(config.REDIS_URL);
  const workerConnection = createRedis(config.REDIS_URL);
  const queue = new Queue<DossierRecord>('naive', { connection: queueConnection, prefix: config.QUEUE_PREFIX });
  let done = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  let failure: Error | undefined;
  const started = performance.now();
  const worker = new Worker<DossierRecord>(
    'naive',
    async (job) => {
      await upsertDossiers(db, [job.data]);
    },
    { connection: workerConnection, prefix: config.QUEUE_PREFIX, concurrency: config.WRITER_CONCURRENCY },
  );
  worker.on('completed', () => {
    done++;
    if (done % 500 === 0) {
      const seconds = (performance.now() - started) / 1000;
      progress.update(`naive: ${done}/${records.length} records, ${Math.round(done / seconds)} records/s`);
    }
    if (done === records.length) allDone();
  });
  worker.on('failed', (_job, error) => {
    failure = error;
    allDone();
  });
  try {
    for (let i = 0; i < records.length; i += 500)
      await queue.addBulk(
        records.slice(i, i + 500).map((record) => ({
          name: 'record',
          data: record,
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );
    await finished;
    if (failure) throw new Error(`bench: a naive job failed: ${failure.message}`);
    const seconds = (performance.now() - started) / 1000;
    progress.done();
    return { records: records.length, seconds, recordsPerSecond: records.length / seconds };
  } finally {
    await worker.close();
    await queue.close();
    queueConnection.disconnect();
    workerConnection.disconnect();
    await db.destroy();
  }
}

// End to end: the province simulator in a process of its own, a poller process (poller and scheduler roles) and
// one or more writer processes, on a fresh database and queue prefix: poll → queue → writer → committed rows.
// The clock runs from the first record fetched (the poller's metrics) to the last of the N dossiers committed
// (the writers' `records_written_total{outcome="inserted"}`, summed), both read every 250 ms.

import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Config } from '../../../config/env.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createDatabase } from '../../../db/database.js';
import { Progress } from '../../cli/progress.js';
import { freePort } from '../bench-support.js';
import { BenchChild } from './bench-child.js';
import { scrape, sumSamples } from './fleet-metrics.js';
import { ResourceSampler } from './resource-sampler.js';

/** One end-to-end run. */
export interface EndToEndOptions {
  /** What the phase is called in the progress and the table, e.g. `e2e 34 provinces, 1 writer`. */
  label: string;
  /** Current province codes the simulator serves, one connector each. */
  provinces: readonly string[];
  /** Dossiers per province. */
  dossiersPerProvince: number;
  /** Writer processes (each with WRITER_CONCURRENCY connections). */
  writers: number;
}

/** What an end-to-end run measured. */
export interface EndToEndFigures {
  records: number;
  /** From the first record fetched to the last dossier committed: the time to catch up. */
  seconds: number;
  recordsPerSecond: number;
  /** Peak resident set of each worker process (`poller`, `writer 1`, …), bytes. */
  rssBytes: Map<string, number>;
  redisPeakDeltaBytes: number;
  /** The most ingest jobs seen waiting at once, over every province's queue. */
  peakJobsWaiting: number;
}

const connectorId = (province: string) => `bench-${province}`;

/** Runs one end-to-end phase; every process it starts is stopped when it returns or throws. */
export async function endToEndPhase(config: Config, options: EndToEndOptions): Promise<EndToEndFigures> {
  const total = options.provinces.length * options.dossiersPerProvince;
  const children: BenchChild[] = [];
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 1 });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  const progress = new Progress(process.stderr, 5_000);
  let sampler: ResourceSampler | undefined;
  try {
    const simulatorPort = await freePort();
    const simulator = BenchChild.start('simulator', config, [
      'simulate',
      '--provinces',
      options.provinces.join(','),
      '--dossiers',
      String(options.dossiersPerProvince),
      '--seed',
      '7',
      '--port',
      String(simulatorPort),
      // Statuses still move (as a live source's do), but seldom enough that the N dossiers are most of the work.
      '--tick-ms',
      '1000',
    ]);
    children.push(simulator);
    const simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
    for (const province of options.provinces)
      await saveConnector(db, {
        id: connectorId(province),
        sourceProvinceCode: province,
        sourceCodeSet: '2025',
        kind: 'national-rest',
        // As the demo registers them: the simulator's clock has one-second precision, a few seconds of look-back.
        config: { baseUrl: simulatorUrl, pageSize: 1000, lookbackSeconds: 5, rateLimit: { requestsPerSecond: 100 } },
        pollIntervalMs: 1000,
      });

    // Writers first, so that the clock does not run while a writer is still starting.
    const writers: { child: BenchChild; url: string }[] = [];
    for (let i = 1; i <= options.writers; i++) {
      const port = await freePort();
      const child = BenchChild.start(`writer ${i}`, config, ['start', '--role', 'writer'], { HTTP_PORT: String(port) });
      children.push(child);
      writers.push({ child, url: `http://127.0.0.1:${port}` });
    }
    await simulator.ready(`${simulatorUrl}/_sim/health`);
    for (const { child, url } of writers) await child.ready(`${url}/readyz`);

    // The worker processes whose memory is sampled; the poller joins once started.
    const workers = writers.map(({ child }) => child);
    sampler = new ResourceSampler(redis, workers);
    await sampler.start();
    const pollerPort = await freePort();
    const pollerUrl = `http://127.0.0.1:${pollerPort}`;
    const poller = BenchChild.start('poller', config, ['start', '--role', 'poller,scheduler'], {
      HTTP_PORT: String(pollerPort),
    });
    children.push(poller);
    workers.push(poller);
    await poller.ready(`${pollerUrl}/readyz`);

    let firstFetchAt: number | undefined;
    let committed = 0;
    let peakJobsWaiting = 0;
    // Generous: the machine is shared; a phase that makes no progress at all for this long has failed.
    const stallMs = 300_000;
    let lastProgressAt = performance.now();
    for (;;) {
      for (const child of children) child.assertRunning();
      const now = performance.now();
      if (firstFetchAt === undefined) {
        const fetched = sumSamples(await scrape(pollerUrl), 'dossier_sync_records_fetched_total');
        if (fetched > 0) firstFetchAt = now;
      }
      let inserted = 0;
      let waiting = 0;
      for (const { url } of writers) {
        const text = await scrape(url);
        inserted += sumSamples(text, 'dossier_sync_records_written_total', { outcome: 'inserted' });
        waiting = sumSamples(text, 'dossier_sync_queue_depth', { state: 'waiting' });
      }
      peakJobsWaiting = Math.max(peakJobsWaiting, waiting);
      if (inserted > committed) lastProgressAt = now;
      committed = inserted;
      const seconds = firstFetchAt === undefined ? 0 : (now - firstFetchAt) / 1000;
      progress.update(
        `${options.label}: ${committed}/${total} records, ${seconds > 0 ? Math.round(committed / seconds) : 0} records/s`,
      );
      if (committed >= total) break;
      if (now - lastProgressAt > stallMs)
        throw new Error(
          `bench: ${options.label}: no dossier committed for ${stallMs / 1000} s (${committed}/${total}); expected the fleet to catch up`,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const endAt = performance.now();
    progress.done();
    const peaks = await sampler.stop();

    const {
      rows: [stored],
    } = await sql<{ count: string }>`SELECT count(*) FROM dossiers`.execute(db);
    if (Number(stored!.count) < total)
      throw new Error(`bench: ${options.label}: ${stored!.count} dossiers stored of ${total}; expected all of them`);
    const seconds = (endAt - (firstFetchAt ?? endAt)) / 1000;
    return {
      records: total,
      seconds,
      recordsPerSecond: total / seconds,
      rssBytes: peaks.rssBytes,
      redisPeakDeltaBytes: peaks.redisPeakDeltaBytes,
      peakJobsWaiting,
    };
  } finally {
    progress.done();
    await sampler?.stop();
    // Pollers first: they wait for their last batch to commit, so the writers stop after them.
    for (const child of [...children].reverse()) await child.stop();
    redis.disconnect();
    await db.destroy();
  }
}

import { sql, type Kysely } from 'kysely';
import type { Config } from '../../../config/env.js';
import { currentProvince } from '../../../config/provinces.js';
import { dossierStatuses, statusCodes } from '../../../connectors/sdk/dossier-status.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import type { Database } from '../../../db/schema.js';
import { startFleet, roles } from '../../../workers/fleet.js';
import type { Logger } from '../../../workers/logger.js';
import { ProvinceSimulator } from '../simulator/province-simulator.js';
import { UsageError } from '../../cli/cli-errors.js';
import { migrateCommand } from '../../cli/commands/migrate.js';
import { Progress } from '../../cli/progress.js';
import { untilSignal } from '../../cli/until-signal.js';

/** Options of `fleet demo`. */
export interface DemoOptions {
  /** Current province codes the simulator serves. Default 01, 79, 48. */
  provinces: string[];
  /** Dossiers per province. Default 20,000. */
  dossiers: number;
  /** Seed of the simulated data. Default 1. */
  seed: number;
  /** Exit after the summary instead of running until Ctrl-C. */
  exit: boolean;
  /** Fraction of simulated records served malformed, to show dead letters. Default 0.0005. */
  malformedRate: number;
  /** Print what it does: progress (on stderr) and the summary. Default true. */
  progress: boolean;
}

/** What the demo measured up to the moment the sync caught up. */
export interface DemoSummary {
  seconds: number;
  dossiers: number;
  recordsPerSecond: number;
  /** Records committed per second of writer transaction time, per writer connection. */
  writerRecordsPerSecond: number;
}

const connectorId = (province: string) => `demo-${province}`;

/** Removes what an earlier demo stored, so the new simulator (a new data set) is synced from the start. */
async function clearEarlierDemo(db: Kysely<Database>, ids: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('sync_cursors').where('connector_id', 'in', ids).execute();
    await trx.deleteFrom('dossier_events').where('connector_id', 'in', ids).execute();
    await trx.deleteFrom('dossiers').where('connector_id', 'in', ids).execute();
    await trx.deleteFrom('dead_letters').where('connector_id', 'in', ids).execute();
  });
}

async function syncedByProvince(db: Kysely<Database>, ids: string[]): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('dossiers')
    .select(['province_code', sql<string>`count(*)`.as('count')])
    .where('connector_id', 'in', ids)
    .groupBy('province_code')
    .execute();
  return new Map(rows.map((row) => [row.province_code, Number(row.count)]));
}

async function printSummary(
  db: Kysely<Database>,
  ids: string[],
  simulator: ProvinceSimulator,
  seconds: number,
): Promise<void> {
  const byStatus = await db
    .selectFrom('dossiers')
    .select(['province_code', 'status', sql<string>`count(*)`.as('count')])
    .where('connector_id', 'in', ids)
    .groupBy(['province_code', 'status'])
    .execute();
  const deadLetters = await db
    .selectFrom('dead_letters')
    .select(['province_code', sql<string>`count(*)`.as('count')])
    .where('connector_id', 'in', ids)
    .groupBy('province_code')
    .execute();
  const truth = new Map<string, number>();
  for (const row of simulator.truth()) truth.set(row.provinceCode, (truth.get(row.provinceCode) ?? 0) + 1);

  console.log(
    `\nCaught up in ${seconds.toFixed(1)} s. Per province (status codes: ${statusCodes.map((code) => `${code} ${dossierStatuses[code].meaning}`).join('; ')}):\n`,
  );
  const header = ['province', 'dossiers', 'synced', 'dead letters', ...statusCodes.map((code) => `s${code}`)];
  const table = [header];
  for (const [province, total] of truth) {
    const counts = new Map(
      byStatus.filter((row) => row.province_code === province).map((row) => [row.status, Number(row.count)]),
    );
    const synced = [...counts.values()].reduce((sum, count) => sum + count, 0);
    const letters = Number(deadLetters.find((row) => row.province_code === province)?.count ?? 0);
    const name = `${province} ${currentProvince(province)?.name ?? ''}`;
    table.push([
      name,
      String(total),
      String(synced),
      String(letters),
      ...statusCodes.map((code) => String(counts.get(code) ?? 0)),
    ]);
  }
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table)
    console.log(
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    );
}

/**
 * `fleet demo`: a simulator with a few provinces and the whole fleet in this process, on this machine's Redis and
 * Postgres. Prints progress, then a per-province summary once every dossier is synced; then keeps running with
 * statuses moving until Ctrl-C (or exits with --exit).
 */
export async function demoCommand(
  config: Config,
  options: DemoOptions,
  logger: Logger,
): Promise<{ exitCode: number; summary: DemoSummary }> {
  for (const province of options.provinces) {
    if (!currentProvince(province))
      throw new UsageError(
        `fleet demo: --provinces: ${JSON.stringify(province)} is not a current province code; expected codes such as 01,79,48`,
      );
  }
  await migrateCommand(config);
  const simulator = new ProvinceSimulator({
    provinces: options.provinces,
    dossiersPerProvince: options.dossiers,
    seed: options.seed,
    malformedRate: options.malformedRate,
  });
  const simulatorUrl = await simulator.start();
  const fleet = await startFleet(config, roles, logger);
  const ids = options.provinces.map(connectorId);
  await clearEarlierDemo(fleet.db, ids);
  for (const province of options.provinces) {
    await saveConnector(fleet.db, {
      id: connectorId(province),
      sourceProvinceCode: province,
      sourceCodeSet: '2025',
      kind: 'national-rest',
      // The simulator's clock has one-second precision: a few seconds of look-back cover it.
      config: { baseUrl: simulatorUrl, pageSize: 1000, lookbackSeconds: 5, rateLimit: { requestsPerSecond: 100 } },
      pollIntervalMs: 1000,
    });
  }
  if (options.progress)
    console.log(
      `Simulator on ${simulatorUrl}: ${options.provinces.length} provinces × ${options.dossiers} dossiers. Fleet on ${fleet.url} (metrics at ${fleet.url}/metrics).`,
    );

  const expected = new Map<string, number>();
  for (const row of simulator.truth())
    if (!row.malformed) expected.set(row.provinceCode, (expected.get(row.provinceCode) ?? 0) + 1);
  const total = [...expected.values()].reduce((sum, count) => sum + count, 0);
  const started = performance.now();
  const progress = new Progress(process.stderr, 5_000);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const synced = await syncedByProvince(fleet.db, ids);
    const done = [...expected].every(([province, count]) => (synced.get(province) ?? 0) >= count);
    const seconds = (performance.now() - started) / 1000;
    if (options.progress) {
      const parts = [...expected.keys()].map(
        (province) => `${province}: ${synced.get(province) ?? 0}/${expected.get(province)}`,
      );
      progress.update(`[${seconds.toFixed(1)} s] synced ${parts.join('  ')}`);
    }
    if (done) break;
  }
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  const batches = (await fleet.metrics.writeBatchDuration.get()).values;
  const batchSeconds = batches.find((value) => value.metricName?.endsWith('_sum'))?.value ?? 0;
  const written = (await fleet.metrics.recordsWritten.get()).values.reduce((sum, value) => sum + value.value, 0);
  const summary: DemoSummary = {
    seconds,
    dossiers: total,
    recordsPerSecond: total / seconds,
    writerRecordsPerSecond: batchSeconds > 0 ? written / batchSeconds : 0,
  };
  if (options.progress) {
    await printSummary(fleet.db, ids, simulator, seconds);
    console.log(
      `\n${total} dossiers in ${seconds.toFixed(1)} s: ${Math.round(summary.recordsPerSecond)} records/s end to end; writer ${Math.round(summary.writerRecordsPerSecond)} records/s per connection.`,
    );
  }

  const shutdown = async () => {
    await fleet.stop();
    await simulator.stop();
  };
  if (options.exit) {
    await shutdown();
    return { exitCode: 0, summary };
  }
  console.log('Statuses keep moving in the simulator and the fleet keeps them in step. Ctrl-C to stop.');
  return {
    exitCode: await untilSignal(Promise.resolve({ stop: shutdown }), config.SHUTDOWN_TIMEOUT_MS, logger),
    summary,
  };
}

import type { Kysely } from 'kysely';
import { reconcileFigures } from '../../db/queries/reconcile-runs.js';
import type { Database } from '../../db/schema.js';
import { ProvinceSimulator, type SimulatorOptions } from '../../scripts/tools/simulator/province-simulator.js';
import { runFleet, spawnFleet, type FleetProcess } from './fleet-process.js';
import { compareWithTruth } from './simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from './test-environment.js';

// A province synced and at rest, to reconcile: a paused simulator, a writer, and a backfill of its whole period.

export const baseTime = new Date('2026-11-20T00:00:00Z');
export const rangeFrom = new Date(baseTime.getTime() - 31 * 86_400_000);
export const rangeTo = new Date(baseTime.getTime() + 86_400_000);

/** A synced province. */
export interface SyncedProvince {
  env: TestEnvironment;
  simulator: ProvinceSimulator;
  simulatorUrl: string;
  writer: FleetProcess;
  settings: () => Record<string, string>;
  stop: () => Promise<void>;
}

/**
 * Starts a paused simulator of one province and a writer, registers the connector with `register`, and backfills
 * the range [rangeFrom, rangeTo) through the fleet so that our copy equals the truth.
 */
export async function syncedProvince(
  simulatorOptions: Partial<SimulatorOptions>,
  register: (db: Kysely<Database>, url: string) => Promise<string>,
  options: { sync?: 'backfill' | 'poll'; env?: Record<string, string> } = {},
): Promise<SyncedProvince> {
  const env = await createTestEnvironment();
  const simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 8000,
    seed: 13,
    baseTime,
    paused: true,
    ...simulatorOptions,
  });
  const simulatorUrl = await simulator.start();
  const connectorId = await register(env.db, simulatorUrl);
  const settings = () => ({ ...env.config, LOG_LEVEL: 'warn', ...options.env }) as unknown as Record<string, string>;
  const writer = spawnFleet(['start', '--role', 'writer'], settings());
  if (options.sync === 'poll') {
    // A source that cannot be read by window: polled from its beginning until the copy equals the truth.
    const poller = spawnFleet(['start', '--role', 'poller,scheduler'], settings());
    let last = '';
    try {
      await waitFor(
        async () => {
          const comparison = await compareWithTruth(env.db, simulator);
          last = JSON.stringify(comparison);
          return comparison.missing === 0 && comparison.different === 0 && comparison.extra === 0;
        },
        'the poller to sync the whole province',
        120_000,
        1000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${last}; ${poller.output().slice(-2000)}`);
    } finally {
      poller.child.kill('SIGTERM');
      await poller.exited;
    }
  } else {
    const backfill = await runFleet(
      ['backfill', '--connector', connectorId, '--from', rangeFrom.toISOString(), '--to', rangeTo.toISOString()],
      settings(),
    );
    if (backfill.code !== 0) throw new Error(`backfill failed: ${backfill.output}`);
  }
  return {
    env,
    simulator,
    simulatorUrl,
    writer,
    settings,
    stop: async () => {
      writer.child.kill('SIGKILL');
      await simulator.stop();
      await env.cleanup();
    },
  };
}

/** The reconcile command over the synced range. */
export function reconcileArgs(connectorId: string): string[] {
  return ['reconcile', '--connector', connectorId, '--from', rangeFrom.toISOString(), '--to', rangeTo.toISOString()];
}

/** The last run's counts. */
export async function lastRun(db: Kysely<Database>) {
  const row = await db.selectFrom('reconcile_runs').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
  return {
    status: row.status,
    missingHere: Number(row.missing_here),
    extraHere: Number(row.extra_here),
    differentVersion: Number(row.different_version),
    differentState: Number(row.different_state),
    repaired: Number(row.repaired),
    bucketsDone: row.buckets_done,
    bucketsTotal: row.buckets_total,
    id: row.id,
    requests: Number(row.requests_made),
    scopes: Number(row.scopes_compared),
    records: Number(row.records_fetched),
  };
}

/**
 * What the next run must find of the share in sync, by the simulator's truth (taken before it runs): compared, every
 * dossier either side holds; in sync, the source's that we hold in its version and status.
 */
export async function shareByTruth(province: SyncedProvince): Promise<{ compared: number; inSync: number }> {
  const truth = await compareWithTruth(province.env.db, province.simulator);
  // compareWithTruth's `extra` is our rows less the truth's dossiers, so it is short by those missing here.
  const onlyOurs = truth.extra + truth.missing;
  return { compared: truth.expected + onlyOurs, inSync: truth.expected - truth.missing - truth.different };
}

/** The share figures of the connector's latest finished run, as /metrics exports them (reconcileFigures). */
export async function shareOfLastRun(db: Kysely<Database>, connectorId: string) {
  const row = (await reconcileFigures(db)).lastRun.find((one) => one.connectorId === connectorId);
  return row && { provinceCode: row.provinceCode, compared: row.compared, inSync: row.inSync };
}

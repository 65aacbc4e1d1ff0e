import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ProvinceSimulator, type SimulatorOptions } from '../../scripts/tools/simulator/province-simulator.js';
import { runFleet, spawnFleet, type FleetProcess } from './fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from './test-environment.js';

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
  const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
  const writer = spawnFleet(['start', '--role', 'writer'], settings());
  const backfill = await runFleet(
    ['backfill', '--connector', connectorId, '--from', rangeFrom.toISOString(), '--to', rangeTo.toISOString()],
    settings(),
  );
  if (backfill.code !== 0) throw new Error(`backfill failed: ${backfill.output}`);
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
  };
}

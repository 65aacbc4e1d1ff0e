import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../workers/fleet.js';
import { createLogger } from '../../workers/logger.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { compareWithTruth, duplicateHistoryRows } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

const provinces = ['01', '79', '48'];

/**
 * The test of a whole sync against the simulator's truth, at a size: 3 provinces × `dossiersPerProvince` whose
 * statuses move during the sync (`npm test` runs it small, `npm run test:long` at 20,000 a province).
 */
export function syncEqualsSimulatorTruth(dossiersPerProvince: number): void {
  let env: TestEnvironment;
  let simulator: ProvinceSimulator;
  let fleet: Fleet;
  const expected = provinces.length * dossiersPerProvince;

  beforeAll(async () => {
    env = await createTestEnvironment();
    simulator = new ProvinceSimulator({
      provinces,
      dossiersPerProvince,
      seed: 11,
      tickMs: 50,
      changesPerTick: 60,
    });
    const url = await simulator.start();
    for (const province of provinces) await registerSimulatorConnector(env.db, url, province);
    fleet = await startFleet(env.config, roles, createLogger('silent'));
  });
  afterAll(async () => {
    await fleet?.stop();
    await simulator?.stop();
    await env?.cleanup();
  });

  it(`ends equal to the simulator: 3 provinces × ${dossiersPerProvince} dossiers whose statuses move during the sync`, async () => {
    await waitFor(
      async () => (await compareWithTruth(env.db, simulator)).missing === 0,
      'every dossier stored once',
      180_000,
    );
    const changesBefore = (await fetch(`${fleet.url}/metrics`)).ok;
    expect(changesBefore).toBe(true);
    // Let statuses keep moving under a synced fleet for a while, then freeze the source and let the fleet catch up.
    const moved = simulator.advance(3000);
    expect(moved).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    simulator.pause();
    await waitFor(async () => {
      const comparison = await compareWithTruth(env.db, simulator);
      return comparison.missing === 0 && comparison.different === 0;
    }, 'every dossier equal to the truth after the source stops moving');

    const comparison = await compareWithTruth(env.db, simulator);
    expect(comparison).toMatchObject({ expected, missing: 0, different: 0, extra: 0 });
    expect(await duplicateHistoryRows(env.db)).toBe(0);
    // Every version the fleet stored a row for is in the history, including intermediate ones it saw.
    const events = await env.db
      .selectFrom('dossier_events')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(events.count)).toBeGreaterThanOrEqual(expected);
  });
}

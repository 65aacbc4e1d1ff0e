import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

const provinces = ['01', '92'];

/**
 * A sync SIGKILLed twice on its way (at 7.5% and 37.5% of the rows) ends equal to the truth: 2 provinces ×
 * `dossiersPerProvince` whose statuses move (`npm test` runs it small, `npm run test:long` at 20,000 a province).
 */
export function syncSurvivesSigkill(dossiersPerProvince: number): void {
  const total = provinces.length * dossiersPerProvince;
  /** What one wait may take: generous for a loaded machine (the default suite's sync takes 38–45 s in all). */
  const waitMs = Math.max(60_000, total * 3);
  let env: TestEnvironment;
  let simulator: ProvinceSimulator;
  let fleet: FleetProcess | null = null;

  const rows = async () =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n);
  /**
   * Waits as waitFor does, each wait within the test's time; one that times out says where the sync stood and what
   * the fleet printed, so a slow CI run tells which step it waited in.
   */
  const waitForSync = async (condition: () => Promise<boolean>, what: string) => {
    try {
      await waitFor(condition, what, waitMs);
    } catch (error) {
      // The account must not hide the timeout: a database that cannot be read is said as such.
      const standing = await Promise.all([rows(), compareWithTruth(env.db, simulator)]).then(
        ([stored, { expected, missing, different, extra }]) =>
          `${stored} rows of ${total} (truth: ${JSON.stringify({ expected, missing, different, extra })})`,
        (unreadable: unknown) => `the rows could not be read (${String(unreadable)})`,
      );
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; ${standing}; the fleet's last output: ${fleet?.output().slice(-4096).trim() || '(none)'}`,
        { cause: error },
      );
    }
  };
  const start = () =>
    spawnFleet(['start', '--role', 'all'], { ...env.config, LOG_LEVEL: 'warn' } as unknown as Record<string, string>);

  beforeAll(async () => {
    env = await createTestEnvironment();
    simulator = new ProvinceSimulator({
      provinces,
      dossiersPerProvince,
      seed: 5,
      tickMs: 50,
      changesPerTick: 40,
    });
    const url = await simulator.start();
    // Small pages: many batches in flight when the process dies.
    for (const province of provinces) await registerSimulatorConnector(env.db, url, province, { pageSize: 500 });
  });
  afterAll(async () => {
    fleet?.child.kill('SIGKILL');
    await simulator?.stop();
    await env?.cleanup();
  });

  it(
    'ends equal to the truth after the fleet is SIGKILLed twice in the middle of a sync',
    async () => {
      for (const threshold of [Math.round(total * 0.075), Math.round(total * 0.375)]) {
        fleet = start();
        await waitForSync(async () => (await rows()) >= threshold, `at least ${threshold} rows before the kill`);
        fleet.child.kill('SIGKILL');
        expect(await fleet.exited).toBe('SIGKILL');
      }
      expect(await rows()).toBeLessThan(total);

      fleet = start();
      await waitForSync(
        async () => (await compareWithTruth(env.db, simulator)).missing === 0,
        'every dossier stored after the restart',
      );
      simulator.pause();
      await waitForSync(async () => {
        const comparison = await compareWithTruth(env.db, simulator);
        return comparison.missing === 0 && comparison.different === 0;
      }, 'equal to the truth');
      expect(await compareWithTruth(env.db, simulator)).toMatchObject({
        expected: total,
        missing: 0,
        different: 0,
        extra: 0,
      });
      expect(await duplicateHistoryRows(env.db)).toBe(0);

      fleet.child.kill('SIGTERM');
      expect(await fleet.exited).toBe(0);
      expect(fleet.output()).not.toMatch(/unhandled|uncaught/i);
      // Four waits, and the starts and stops: the test's own time is above their sum.
    },
    4 * waitMs + 60_000,
  );
}

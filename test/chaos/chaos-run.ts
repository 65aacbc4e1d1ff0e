import { expect } from 'vitest';
import { sql } from 'kysely';
import { saveConnector } from '../../db/queries/connectors.js';
import { createDatabase } from '../../db/database.js';
import { migrateCommand } from '../../scripts/commands/migrate.js';
import { loadConfig } from '../../config/env.js';
import { ProvinceSimulator } from '../../scripts/simulator/province-simulator.js';
import { spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { OwnPostgres, OwnRedis } from '../support/own-services.js';
import { compareWithTruth, duplicateHistoryRows, type TruthComparison } from '../support/simulator-truth.js';
import { waitFor } from '../support/test-environment.js';

/** The size and pace of one chaos run. */
export interface ChaosOptions {
  dossiersPerProvince: number;
  /** How long faults are injected. */
  durationMs: number;
  /**
   * The first part of the faults, when only the province systems misbehave: the healthy provinces' lag then
   * shows what the failing ones cost them, apart from our own processes' kills and restarts that follow.
   */
  provinceFaultsOnlyMs: number;
  /** A poller or writer is SIGKILLed this often (and restarted half a second later). */
  killEveryMs: number;
  /** How long the outage province is down, from the start. */
  outageMs: number;
  /** Status changes per second in the simulator while faults run. */
  changesPerSecond: number;
  /** Longest wait for the backfill, and for the catch-up after the faults: below the test's own timeout, so a stuck run still reports. */
  maxWaitMs: number;
}

/** The roles of the province systems in a run. */
const failing = '01'; // 30% of requests fail
const timingOut = '79'; // every request outlasts the connector's timeout
const malformed = '48'; // 1% of records malformed
const outage = '92'; // down for `outageMs`
const healthy = '31';
const provinces = [failing, timingOut, malformed, outage, healthy];
const healthyProvinces = [healthy, malformed];

/** What a run did and found. */
export interface ChaosReport {
  faults: Record<string, number | string>;
  records: number;
  changesDuringChaos: number;
  catchUpSeconds: number;
  /**
   * Largest age, seen during the faults, of a change made during the faults and not yet synced in a healthy
   * province: while only the province systems failed, and once our own processes were killed and restarted too.
   */
  healthyMaxLagSeconds: { provinceFaultsOnly: number; allFaults: number };
  comparison: TruthComparison;
  duplicateHistory: number;
  deadLetters: { expected: number; kept: number; wrongReason: number };
  /** Processes that died without being killed by the run, and log lines about unhandled errors. */
  unexpectedExits: string[];
  unhandled: string[];
  cleanStops: number;
}

/** Largest lag, in seconds, a run tolerates in a healthy province. */
export interface LagLimits {
  /** While only the province systems fail: what the failing provinces may cost a healthy one. */
  provinceFaultsOnly: number;
  /** Once our own processes are SIGKILLed and Postgres and Redis restart under every province too. */
  allFaults: number;
}

/** Prints the report, then fails the test on anything lost, backwards, unhandled or held up past the limits. */
export function expectChaosPassed(report: ChaosReport, limits: LagLimits): void {
  const lagWithin = report.healthyMaxLagSeconds.provinceFaultsOnly < limits.provinceFaultsOnly && report.healthyMaxLagSeconds.allFaults < limits.allFaults;
  const passed =
    report.comparison.missing + report.comparison.different + report.comparison.extra === 0 &&
    report.duplicateHistory === 0 &&
    report.deadLetters.kept === report.deadLetters.expected &&
    report.deadLetters.wrongReason === 0 &&
    report.unexpectedExits.length === 0 &&
    report.unhandled.length === 0 &&
    lagWithin;
  printReport(report, limits, passed);
  expect(report.comparison).toMatchObject({ missing: 0, different: 0, extra: 0 });
  expect(report.duplicateHistory).toBe(0);
  expect(report.deadLetters.kept).toBe(report.deadLetters.expected);
  expect(report.deadLetters.wrongReason).toBe(0);
  expect(report.unexpectedExits).toEqual([]);
  expect(report.unhandled).toEqual([]);
  expect(report.healthyMaxLagSeconds.provinceFaultsOnly).toBeLessThan(limits.provinceFaultsOnly);
  expect(report.healthyMaxLagSeconds.allFaults).toBeLessThan(limits.allFaults);
}

/** Prints the report as the table the closing notes quote. */
export function printReport(report: ChaosReport, limits: LagLimits, passed: boolean): void {
  const lag = report.healthyMaxLagSeconds;
  const rows: [string, string][] = [
    ...Object.entries(report.faults).map(([kind, count]) => [kind, String(count)] as [string, string]),
    ['dossiers (5 provinces)', String(report.records)],
    ['status changes during the faults', String(report.changesDuringChaos)],
    ['time to catch up after the faults', `${report.catchUpSeconds.toFixed(1)} s`],
    ['healthy provinces, largest lag: province faults only (limit)', `${lag.provinceFaultsOnly.toFixed(1)} s (< ${limits.provinceFaultsOnly} s)`],
    ['healthy provinces, largest lag: all faults (limit)', `${lag.allFaults.toFixed(1)} s (< ${limits.allFaults} s)`],
    ['dossiers missing / different / extra', `${report.comparison.missing} / ${report.comparison.different} / ${report.comparison.extra}`],
    ['history rows repeated', String(report.duplicateHistory)],
    ['malformed records: expected / kept as dead letters / wrong reason', `${report.deadLetters.expected} / ${report.deadLetters.kept} / ${report.deadLetters.wrongReason}`],
    ['processes dead on their own / unhandled errors logged', `${report.unexpectedExits.length} / ${report.unhandled.length}`],
    ['result', passed ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([kind]) => kind.length));
  console.log(`\nchaos run\n${rows.map(([kind, value]) => `  ${kind.padEnd(width)}  ${value}`).join('\n')}\n`);
  for (const line of [...report.unexpectedExits, ...report.unhandled]) console.log(`  ! ${line}`);
}

/**
 * One chaos run: its own Redis and Postgres, a moving simulator with four misbehaving provinces, the fleet as
 * separate processes (a scheduler, two pollers, two writers) killed at random, Postgres crashed once, Redis
 * restarted empty once. Then the faults stop, and the run waits for the fleet to catch up and checks.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const postgres = await OwnPostgres.start();
  const redis = await OwnRedis.start();
  const simulator = new ProvinceSimulator({
    provinces,
    dossiersPerProvince: options.dossiersPerProvince,
    seed: 2026,
    malformedRateByProvince: { [malformed]: 0.01 },
    tickMs: 200,
    changesPerTick: Math.max(1, Math.round(options.changesPerSecond / 5)),
    paused: true,
  });
  const processes = new Map<string, FleetProcess>();
  const killedByUs = new Set<FleetProcess>();
  const outputs: string[] = [];
  const unexpectedExits: string[] = [];
  // What happened when, for the report of a run that fails before its checks.
  const runStarted = Date.now();
  const timeline: string[] = [];
  const mark = (event: string) => timeline.push(`${((Date.now() - runStarted) / 1000).toFixed(1)} s  ${event}`);
  const diagnosis = () =>
    [
      'timeline:',
      ...timeline.map((line) => `  ${line}`),
      `own Postgres running: ${postgres.isRunning()}; its log ends:`,
      ...postgres.logTail().split('\n').map((line) => `  ${line}`),
      `own Redis running: ${redis.isRunning()}`,
      ...[...processes].map(([name, fleet]) => `${name} (pid ${fleet.child.pid}, ${fleet.child.exitCode ?? fleet.child.signalCode ?? 'running'}) printed last:\n  ${fleet.output().trimEnd().split('\n').slice(-8).join('\n  ')}`),
    ].join('\n');
  let stopping = false;
  try {
    const simulatorUrl = await simulator.start();
    // A restarted worker waits for a Postgres or Redis that is restarting, as a production deployment is set to.
    const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, QUEUE_PREFIX: 'chaos', HTTP_PORT: '0', LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '15000', STARTUP_WAIT_MS: '60000' };
    await migrateCommand(loadConfig(env));
    const db = createDatabase(postgres.url, { maxConnections: 2 });
    for (const province of provinces) {
      await saveConnector(db, {
        id: `chaos-${province}`,
        provinceCode: province,
        codeSet: '2025',
        kind: 'national-rest',
        config: {
          baseUrl: simulatorUrl,
          pageSize: 1000,
          lookbackSeconds: 5,
          timeoutMs: 2000,
          rateLimit: { requestsPerSecond: 200, concurrentRequests: 2 },
          breaker: { resetTimeoutSeconds: 2, volumeThreshold: 5 },
          retry: { maxAttempts: 3, budgetPerMinute: 60 },
        },
        pollIntervalMs: 500,
      });
    }

    const roles: Record<string, string> = { control: 'scheduler,gateway', 'poller-1': 'poller', 'poller-2': 'poller', 'writer-1': 'writer', 'writer-2': 'writer' };
    const launch = (name: string) => {
      const fleet = spawnFleet(['start', '--role', roles[name]!], env);
      processes.set(name, fleet);
      mark(`${name} started (pid ${fleet.child.pid})`);
      void fleet.exited.then((code) => {
        mark(`${name} (pid ${fleet.child.pid}) exited ${code}${killedByUs.has(fleet) ? ', killed by the run' : ''}`);
        outputs.push(fleet.output());
        if (!killedByUs.has(fleet) && !stopping) unexpectedExits.push(`${name} exited ${code} on its own`);
      });
      return fleet;
    };
    for (const name of Object.keys(roles)) launch(name);

    // First the backfill, undisturbed: the faults hit a fleet in its steady state, where lag means something.
    const backfillStarted = Date.now();
    await waitFor(async () => ((await compareWithTruth(db, simulator).catch(() => null))?.missing ?? 1) === 0, 'the backfill', options.maxWaitMs, 1000);
    mark('backfill done; faults start');
    const backfillSeconds = (Date.now() - backfillStarted) / 1000;

    // The faults.
    simulator.setFault(failing, { failureRate: 0.3 });
    simulator.setFault(timingOut, { delayMs: 5000 });
    simulator.setFault(outage, { down: true });
    simulator.resume();
    const faults: Record<string, number | string> = {
      'backfill before the faults': `${backfillSeconds.toFixed(1)} s`,
      [`province ${failing}: requests failing`]: '30%',
      [`province ${timingOut}: requests timing out`]: 'all, during the faults',
      [`province ${malformed}: records malformed`]: '1%',
      [`province ${outage}: outage`]: `${Math.round(options.outageMs / 1000)} s`,
      'province faults alone, before our own': `${Math.round(options.provinceFaultsOnlyMs / 1000)} s`,
      'pollers SIGKILLed': 0,
      'writers SIGKILLed': 0,
      'Postgres crashed and restarted': 0,
      'Redis restarted with its data lost': 0,
    };
    const started = Date.now();
    const changesBefore = (await (await fetch(`${simulatorUrl}/_sim/health`)).json()) as { changes: number };

    const healthyMaxLagSeconds = { provinceFaultsOnly: 0, allFaults: 0 };
    const sampleLag = async (phase: keyof typeof healthyMaxLagSeconds) => {
      const rows = await db.selectFrom('dossiers').select(['province_code', 'dossier_code', 'source_version']).where('province_code', 'in', healthyProvinces).execute();
      const stored = new Map(rows.map((row) => [`${row.province_code}/${row.dossier_code}`, Number(row.source_version)]));
      const now = Date.now();
      for (const truth of simulator.truth()) {
        // Changes made during the faults; the initial backfill is not a fresh update.
        if (!healthyProvinces.includes(truth.provinceCode) || truth.malformed || Date.parse(truth.updatedAt) < started) continue;
        if ((stored.get(`${truth.provinceCode}/${truth.dossierCode}`) ?? 0) < truth.version) {
          healthyMaxLagSeconds[phase] = Math.max(healthyMaxLagSeconds[phase], (now - Date.parse(truth.updatedAt)) / 1000);
        }
      }
    };

    let restartedPostgres = false;
    let restartedRedis = false;
    // Our own faults come after the province-only part: kills throughout, Postgres at a third, Redis at two thirds.
    const ownFaultsFrom = options.provinceFaultsOnlyMs;
    const ownFaultsFor = options.durationMs - ownFaultsFrom;
    let nextKill = started + ownFaultsFrom + options.killEveryMs;
    let nextSample = started + 1000;
    while (Date.now() - started < options.durationMs) {
      const elapsed = Date.now() - started;
      const phase = elapsed < ownFaultsFrom ? 'provinceFaultsOnly' : 'allFaults';
      if (elapsed >= options.outageMs) simulator.setFault(outage, null);
      if (!restartedPostgres && elapsed >= ownFaultsFrom + ownFaultsFor / 3) {
        mark('Postgres crash and restart');
        postgres.restart();
        mark(`Postgres restarted (running: ${postgres.isRunning()})`);
        restartedPostgres = true;
        faults['Postgres crashed and restarted'] = 1;
      }
      if (!restartedRedis && elapsed >= ownFaultsFrom + (2 * ownFaultsFor) / 3) {
        mark('Redis restart, empty');
        await redis.restartEmpty();
        mark(`Redis restarted (running: ${redis.isRunning()})`);
        restartedRedis = true;
        faults['Redis restarted with its data lost'] = 1;
      }
      if (Date.now() >= nextKill) {
        const victims = ['poller-1', 'poller-2', 'writer-1', 'writer-2'];
        const name = victims[Math.floor(Math.random() * victims.length)]!;
        const victim = processes.get(name)!;
        killedByUs.add(victim);
        victim.child.kill('SIGKILL');
        await victim.exited;
        const key = name.startsWith('poller') ? 'pollers SIGKILLed' : 'writers SIGKILLed';
        faults[key] = Number(faults[key]) + 1;
        setTimeout(() => launch(name), 500);
        nextKill += options.killEveryMs;
      }
      if (Date.now() >= nextSample) {
        await sampleLag(phase).catch(() => {});
        nextSample = Date.now() + (phase === 'provinceFaultsOnly' ? 1000 : 3000);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The faults stop; the source freezes so there is one truth to reach.
    simulator.setFault(failing, null);
    simulator.setFault(timingOut, null);
    simulator.setFault(outage, null);
    simulator.pause();
    mark(`faults stop (own Postgres running: ${postgres.isRunning()}, own Redis running: ${redis.isRunning()})`);
    const changesAfter = (await (await fetch(`${simulatorUrl}/_sim/health`)).json()) as { changes: number };
    await new Promise((resolve) => setTimeout(resolve, 600)); // the last restarted process is up
    const catchUpStarted = Date.now();
    await waitFor(
      async () => {
        const comparison = await compareWithTruth(db, simulator).catch(() => null);
        return comparison !== null && comparison.missing === 0 && comparison.different === 0;
      },
      'the fleet caught up with the truth after the faults',
      options.maxWaitMs,
      1000,
    );
    const catchUpSeconds = (Date.now() - catchUpStarted) / 1000;

    const expectedLetters = [...simulator.truth()].filter((row) => row.malformed);
    await waitFor(async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters`.execute(db)).rows[0]!.n) >= expectedLetters.length, 'dead letters kept', 60_000);
    const letters = await db.selectFrom('dead_letters').select(['dossier_code', 'reason']).execute();
    const reasons = new Map(letters.map((letter) => [letter.dossier_code, letter.reason]));
    const report: ChaosReport = {
      faults,
      records: provinces.length * options.dossiersPerProvince,
      changesDuringChaos: changesAfter.changes - changesBefore.changes,
      catchUpSeconds,
      healthyMaxLagSeconds,
      comparison: await compareWithTruth(db, simulator),
      duplicateHistory: await duplicateHistoryRows(db),
      deadLetters: {
        expected: expectedLetters.length,
        kept: expectedLetters.filter((row) => reasons.has(row.dossierCode)).length,
        wrongReason: expectedLetters.filter((row) => reasons.has(row.dossierCode) && reasons.get(row.dossierCode) !== row.malformed).length,
      },
      unexpectedExits,
      unhandled: [],
      cleanStops: 0,
    };
    await db.destroy();

    // Every process still running stops cleanly on SIGTERM.
    stopping = true;
    for (const [name, fleet] of processes) {
      if (fleet.child.exitCode !== null || fleet.child.signalCode !== null) continue;
      fleet.child.kill('SIGTERM');
      // A process that does not exit is a finding, not a reason for the run to hang.
      const code = await Promise.race([fleet.exited, new Promise<null>((resolve) => setTimeout(resolve, 30_000, null).unref())]);
      if (code === null) {
        fleet.child.kill('SIGKILL');
        report.unexpectedExits.push(`${name} still running 30 s after SIGTERM`);
      } else if (code === 0) report.cleanStops += 1;
      else report.unexpectedExits.push(`${name} exited ${code} on SIGTERM`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const output of outputs) {
      const lines = output.split('\n');
      lines.forEach((line, i) => {
        // The error and the lines around it, to find where it came from.
        if (/unhandled|uncaught/i.test(line)) report.unhandled.push(lines.slice(Math.max(0, i - 3), i + 8).join(' | ').slice(0, 1500));
      });
    }
    return report;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`chaos run failed: ${reason}\n${diagnosis()}`, { cause: error });
  } finally {
    for (const fleet of processes.values()) fleet.child.kill('SIGKILL');
    await simulator.stop();
    await redis.stop();
    postgres.stop();
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { saveConnector } from '../../db/queries/connectors.js';
import { createDatabase } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { migrateCommand } from '../../scripts/cli/commands/migrate.js';
import { loadConfig } from '../../config/env.js';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
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
  /**
   * Longest wait for the backfill, and for the catch-up after the faults: below the test's own timeout, so a stuck run
   * still reports.
   */
  maxWaitMs: number;
  /**
   * Ends the run early: pass the test's `signal`, which vitest aborts when the test times out. The run then
   * prints what it saw, stops everything it started and fails. Default: never aborted.
   */
  signal?: AbortSignal;
  /**
   * Called as the run reaches each stage; what it throws fails the run there (a test makes a run fail on
   * purpose this way, to see it clean up). Default: none.
   */
  onStage?: (stage: ChaosStage) => void | Promise<void>;
}

/** The points of a run `ChaosOptions.onStage` hears of, in order. */
export type ChaosStage = 'services started' | 'fleet started' | 'faults started' | 'faults stopped';

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
  /** What went wrong while stopping what the run started (a step that failed or outlasted its deadline). */
  cleanupProblems: string[];
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
  const lagWithin =
    report.healthyMaxLagSeconds.provinceFaultsOnly < limits.provinceFaultsOnly &&
    report.healthyMaxLagSeconds.allFaults < limits.allFaults;
  const passed =
    report.comparison.missing + report.comparison.different + report.comparison.extra === 0 &&
    report.duplicateHistory === 0 &&
    report.deadLetters.kept === report.deadLetters.expected &&
    report.deadLetters.wrongReason === 0 &&
    report.unexpectedExits.length === 0 &&
    report.unhandled.length === 0 &&
    report.cleanupProblems.length === 0 &&
    lagWithin;
  printReport(report, limits, passed);
  expect(report.comparison).toMatchObject({ missing: 0, different: 0, extra: 0 });
  expect(report.duplicateHistory).toBe(0);
  expect(report.deadLetters.kept).toBe(report.deadLetters.expected);
  expect(report.deadLetters.wrongReason).toBe(0);
  expect(report.unexpectedExits).toEqual([]);
  expect(report.unhandled).toEqual([]);
  expect(report.cleanupProblems).toEqual([]);
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
    [
      'healthy provinces, largest lag: province faults only (limit)',
      `${lag.provinceFaultsOnly.toFixed(1)} s (< ${limits.provinceFaultsOnly} s)`,
    ],
    ['healthy provinces, largest lag: all faults (limit)', `${lag.allFaults.toFixed(1)} s (< ${limits.allFaults} s)`],
    [
      'dossiers missing / different / extra',
      `${report.comparison.missing} / ${report.comparison.different} / ${report.comparison.extra}`,
    ],
    ['history rows repeated', String(report.duplicateHistory)],
    [
      'malformed records: expected / kept as dead letters / wrong reason',
      `${report.deadLetters.expected} / ${report.deadLetters.kept} / ${report.deadLetters.wrongReason}`,
    ],
    [
      'processes dead on their own / unhandled errors logged',
      `${report.unexpectedExits.length} / ${report.unhandled.length}`,
    ],
    ['problems stopping what the run started', String(report.cleanupProblems.length)],
    ['result', passed ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([kind]) => kind.length));
  console.log(`\nchaos run\n${rows.map(([kind, value]) => `  ${kind.padEnd(width)}  ${value}`).join('\n')}\n`);
  for (const line of [...report.unexpectedExits, ...report.unhandled, ...report.cleanupProblems])
    console.log(`  ! ${line}`);
}

/**
 * One chaos run: its own Redis and Postgres, a moving simulator with four misbehaving provinces, the fleet as
 * separate processes (a scheduler, two pollers, two writers) killed at random, Postgres crashed once, Redis
 * restarted empty once. Then the faults stop, and the run waits for the fleet to catch up and checks.
 *
 * However it ends — its checks done, an exception anywhere, `options.signal` aborted (the test timed out) —
 * every process and service it started is stopped before it returns or throws, and a failing run prints what
 * it saw before it stops anything. A worker killed under it is covered by the registry's reaper
 * (test/support/process-group-registry.ts), and whatever is still tracked by the afterAll of every test file.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { signal } = options;
  let postgres: OwnPostgres | null = null;
  let redis: OwnRedis | null = null;
  let simulator: ProvinceSimulator | null = null;
  let db: Kysely<Database> | null = null;
  /** The process running now under each name, and every one ever started (the cleanup's list). */
  const processes = new Map<string, FleetProcess>();
  const everyFleet: FleetProcess[] = [];
  /** A killed process is started again half a second later; a run that ends first cancels that. */
  const pendingRestarts = new Set<NodeJS.Timeout>();
  const killedByUs = new Set<FleetProcess>();
  const outputs: string[] = [];
  const unexpectedExits: string[] = [];
  const faults: Record<string, number | string> = {};
  // What happened when, for the report of a run that fails before its checks.
  const runStarted = Date.now();
  const timeline: string[] = [];
  const mark = (event: string) => timeline.push(`${((Date.now() - runStarted) / 1000).toFixed(1)} s  ${event}`);
  const diagnosis = () =>
    [
      'timeline:',
      ...timeline.map((line) => `  ${line}`),
      'faults so far:',
      ...Object.entries(faults).map(([kind, count]) => `  ${kind}: ${count}`),
      `own Postgres running: ${postgres?.isRunning() ?? 'not started'}; its log ends:`,
      ...(postgres?.logTail() ?? '').split('\n').map((line) => `  ${line}`),
      `own Redis running: ${redis?.isRunning() ?? 'not started'}`,
      ...[...processes].map(
        ([name, fleet]) =>
          `${name} (pid ${fleet.child.pid}, ${fleet.child.exitCode ?? fleet.child.signalCode ?? 'running'}) printed last:\n  ${fleet.output().trimEnd().split('\n').slice(-8).join('\n  ')}`,
      ),
    ].join('\n');
  /** Set once the run is over: nothing is started after that (a restart timer firing late, a launch after an abort). */
  let over = false;
  let stopping = false;
  const stillOn = () => {
    if (over) throw new Error('the run is over');
    signal?.throwIfAborted();
  };
  const stage = async (name: ChaosStage) => {
    stillOn();
    mark(`stage: ${name}`);
    if (options.onStage) await untilAborted(Promise.resolve(options.onStage(name)), signal);
  };

  const roles: Record<string, string> = {
    control: 'scheduler,gateway',
    'poller-1': 'poller',
    'poller-2': 'poller',
    'writer-1': 'writer',
    'writer-2': 'writer',
  };
  const launch = (name: string, env: Record<string, string>) => {
    const fleet = spawnFleet(['start', '--role', roles[name]!], env);
    everyFleet.push(fleet);
    processes.set(name, fleet);
    mark(`${name} started (pid ${fleet.child.pid})`);
    void fleet.exited.then((code) => {
      mark(`${name} (pid ${fleet.child.pid}) exited ${code}${killedByUs.has(fleet) ? ', killed by the run' : ''}`);
      outputs.push(fleet.output());
      if (!killedByUs.has(fleet) && !stopping && !over) unexpectedExits.push(`${name} exited ${code} on its own`);
    });
    return fleet;
  };

  const run = async (): Promise<ChaosReport> => {
    postgres = await OwnPostgres.start();
    mark(`own Postgres started on port ${postgres.port}`);
    stillOn();
    redis = await OwnRedis.start();
    mark(`own Redis started on port ${redis.port}`);
    await stage('services started');
    simulator = new ProvinceSimulator({
      provinces,
      dossiersPerProvince: options.dossiersPerProvince,
      seed: 2026,
      malformedRateByProvince: { [malformed]: 0.01 },
      tickMs: 200,
      changesPerTick: Math.max(1, Math.round(options.changesPerSecond / 5)),
      paused: true,
    });
    const simulatorUrl = await simulator.start();
    // A restarted worker waits for a Postgres or Redis that is restarting, as a production deployment is set to.
    const env = {
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'chaos',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '15000',
      STARTUP_WAIT_MS: '60000',
    };
    await untilAborted(migrateCommand(loadConfig(env)), signal);
    db = createDatabase(postgres.url, { maxConnections: 2 });
    const database = db;
    for (const province of provinces) {
      await saveConnector(database, {
        id: `chaos-${province}`,
        sourceProvinceCode: province,
        sourceCodeSet: '2025',
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

    stillOn();
    for (const name of Object.keys(roles)) launch(name, env);
    await stage('fleet started');
    const truthReached = async (check: (comparison: TruthComparison) => boolean) => {
      stillOn();
      const comparison = await compareWithTruth(database, simulator!).catch(() => null);
      return comparison !== null && check(comparison);
    };

    // First the backfill, undisturbed: the faults hit a fleet in its steady state, where lag means something.
    const backfillStarted = Date.now();
    await waitFor(
      () => truthReached((comparison) => comparison.missing === 0),
      'the backfill',
      options.maxWaitMs,
      1000,
    );
    mark('backfill done; faults start');
    const backfillSeconds = (Date.now() - backfillStarted) / 1000;

    // The faults.
    simulator.setFault(failing, { failureRate: 0.3 });
    simulator.setFault(timingOut, { delayMs: 5000 });
    simulator.setFault(outage, { down: true });
    simulator.resume();
    Object.assign(faults, {
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
    });
    const started = Date.now();
    const changesBefore = (await (await fetch(`${simulatorUrl}/_sim/health`, { signal })).json()) as {
      changes: number;
    };
    await stage('faults started');

    const healthyMaxLagSeconds = { provinceFaultsOnly: 0, allFaults: 0 };
    const sampleLag = async (phase: keyof typeof healthyMaxLagSeconds) => {
      const rows = await database
        .selectFrom('dossiers')
        .select(['province_code', 'dossier_code', 'source_version'])
        .where('province_code', 'in', healthyProvinces)
        .execute();
      const stored = new Map(
        rows.map((row) => [`${row.province_code}/${row.dossier_code}`, Number(row.source_version)]),
      );
      const now = Date.now();
      for (const truth of simulator!.truth()) {
        // Changes made during the faults; the initial backfill is not a fresh update.
        if (!healthyProvinces.includes(truth.provinceCode) || truth.malformed || Date.parse(truth.updatedAt) < started)
          continue;
        if ((stored.get(`${truth.provinceCode}/${truth.dossierCode}`) ?? 0) < truth.version) {
          healthyMaxLagSeconds[phase] = Math.max(
            healthyMaxLagSeconds[phase],
            (now - Date.parse(truth.updatedAt)) / 1000,
          );
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
      stillOn();
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
        // The whole process group, as an orchestrator kills a container.
        victim.killGroup('SIGKILL');
        await untilAborted(victim.exited, signal);
        const key = name.startsWith('poller') ? 'pollers SIGKILLed' : 'writers SIGKILLed';
        faults[key] = Number(faults[key]) + 1;
        const restart = setTimeout(() => {
          pendingRestarts.delete(restart);
          if (!over && !signal?.aborted) launch(name, env);
        }, 500);
        pendingRestarts.add(restart);
        nextKill += options.killEveryMs;
      }
      if (Date.now() >= nextSample) {
        await sampleLag(phase).catch(() => {});
        nextSample = Date.now() + (phase === 'provinceFaultsOnly' ? 1000 : 3000);
      }
      await sleep(100, undefined, { signal });
    }

    // The faults stop; the source freezes so there is one truth to reach.
    simulator.setFault(failing, null);
    simulator.setFault(timingOut, null);
    simulator.setFault(outage, null);
    simulator.pause();
    mark(`faults stop (own Postgres running: ${postgres.isRunning()}, own Redis running: ${redis.isRunning()})`);
    const changesAfter = (await (await fetch(`${simulatorUrl}/_sim/health`, { signal })).json()) as { changes: number };
    await stage('faults stopped');
    await sleep(600, undefined, { signal }); // the last restarted process is up
    const catchUpStarted = Date.now();
    await waitFor(
      () => truthReached((comparison) => comparison.missing === 0 && comparison.different === 0),
      'the fleet caught up with the truth after the faults',
      options.maxWaitMs,
      1000,
    );
    const catchUpSeconds = (Date.now() - catchUpStarted) / 1000;

    const expectedLetters = [...simulator.truth()].filter((row) => row.malformed);
    const keptLetters = async () => {
      stillOn();
      return Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters`.execute(database)).rows[0]!.n);
    };
    await waitFor(async () => (await keptLetters()) >= expectedLetters.length, 'dead letters kept', 60_000);
    const letters = await database.selectFrom('dead_letters').select(['dossier_code', 'reason']).execute();
    const reasons = new Map(letters.map((letter) => [letter.dossier_code, letter.reason]));
    const report: ChaosReport = {
      faults,
      records: provinces.length * options.dossiersPerProvince,
      changesDuringChaos: changesAfter.changes - changesBefore.changes,
      catchUpSeconds,
      healthyMaxLagSeconds,
      comparison: await compareWithTruth(database, simulator),
      duplicateHistory: await duplicateHistoryRows(database),
      deadLetters: {
        expected: expectedLetters.length,
        kept: expectedLetters.filter((row) => reasons.has(row.dossierCode)).length,
        wrongReason: expectedLetters.filter(
          (row) => reasons.has(row.dossierCode) && reasons.get(row.dossierCode) !== row.malformed,
        ).length,
      },
      unexpectedExits,
      unhandled: [],
      cleanStops: 0,
      cleanupProblems: [],
    };

    // Every process still running stops cleanly on SIGTERM.
    stopping = true;
    for (const [name, fleet] of processes) {
      if (fleet.child.exitCode !== null || fleet.child.signalCode !== null) continue;
      fleet.child.kill('SIGTERM');
      // A process that does not exit is a finding, not a reason for the run to hang.
      const code = await untilAborted(Promise.race([fleet.exited, sleep(30_000, null, { ref: false })]), signal);
      if (code === null) {
        fleet.killGroup('SIGKILL');
        report.unexpectedExits.push(`${name} still running 30 s after SIGTERM`);
      } else if (code === 0) report.cleanStops += 1;
      else report.unexpectedExits.push(`${name} exited ${code} on SIGTERM`);
    }
    await sleep(100);
    for (const output of outputs) {
      const lines = output.split('\n');
      lines.forEach((line, i) => {
        // The error and the lines around it, to find where it came from.
        if (/unhandled|uncaught/i.test(line))
          report.unhandled.push(
            lines
              .slice(Math.max(0, i - 3), i + 8)
              .join(' | ')
              .slice(0, 1500),
          );
      });
    }
    return report;
  };

  /**
   * Stops everything the run started, the fleet first so nothing retries against the services stopped next. Never
   * throws: it says what went wrong.
   */
  const cleanUp = async (): Promise<string[]> => {
    over = true;
    for (const restart of pendingRestarts) clearTimeout(restart);
    pendingRestarts.clear();
    const problems: string[] = [];
    const step = async (what: string, work: () => unknown, deadlineMs = 20_000) => {
      try {
        const outcome = await Promise.race([
          Promise.resolve()
            .then(work)
            .then(() => 'done'),
          sleep(deadlineMs, 'late', { ref: false }),
        ]);
        if (outcome === 'late') problems.push(`${what}: not done after ${deadlineMs / 1000} s`);
      } catch (error) {
        problems.push(`${what}: ${reasonOf(error)}`);
      }
    };
    await step('stopping the fleet', async () => {
      const running = everyFleet.filter((fleet) => fleet.child.exitCode === null && fleet.child.signalCode === null);
      for (const fleet of running) fleet.killGroup('SIGKILL');
      await Promise.all(running.map((fleet) => fleet.exited));
    });
    await step('closing its database pool', () => db?.destroy());
    await step('stopping the simulator', () => simulator?.stop());
    await step('stopping its Redis', () => redis?.stop());
    await step('stopping its Postgres', () => postgres?.stop());
    return problems;
  };

  let report: ChaosReport | null = null;
  let failure: { error: unknown } | null = null;
  try {
    report = await run();
  } catch (error) {
    // An aborted run's error is the abort's own (an AbortError from a sleep, say): the signal's reason says why.
    failure = { error: signal?.aborted ? new Error(`aborted: ${reasonOf(signal.reason)}`, { cause: error }) : error };
    // Printed now, before anything is stopped: it shows the state the run failed in, and it is out even if
    // nobody hears the error (the test already timed out) or the cleanup is cut short.
    console.log(`\nchaos run failed: ${reasonOf(failure.error)}\n${diagnosis()}\n`);
  }
  const cleanupProblems = await cleanUp();
  if (failure !== null || report === null) {
    const cleanup = cleanupProblems.length > 0 ? `; and stopping what it started: ${cleanupProblems.join('; ')}` : '';
    throw new Error(
      `chaos run failed: ${reasonOf(failure?.error)}${cleanup} (its timeline and state are printed above)`,
      { cause: failure?.error },
    );
  }
  report.cleanupProblems = cleanupProblems;
  return report;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `work`, or the signal's reason as soon as it is aborted (work that cannot be aborted itself is left behind). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

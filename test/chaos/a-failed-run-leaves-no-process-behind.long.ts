import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGroupAlive, ProcessGroupRegistry, startedProcesses } from '../support/process-group-registry.js';
import { parentPid, ProcessTreeWatch, type SeenProcess } from '../support/process-tree-watch.js';
import { waitFor } from '../support/test-environment.js';
import { OwnPostgres, OwnRedis } from '../support/own-services.js';
import { runChaos, type ChaosStage } from './chaos-run.js';

// However a chaos run ends — its test timed out, its worker killed, the harness throwing half-way — every
// process and service it started is gone afterwards, and a run that could still speak printed what it saw.
// What is left is seen from outside, in /proc (ProcessTreeWatch), not from the harness's own bookkeeping.

const repository = fileURLToPath(new URL('../..', import.meta.url));
const vitestBin = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const fixtureConfig = fileURLToPath(new URL('./fixtures/vitest.fixture.config.ts', import.meta.url));

/**
 * Every process the watch saw that is still alive once `graceMs` has passed (the reaper's grace is 5 s),
 * but those `notTheRuns` matches: this worker's own processes, when the run was in this worker.
 */
async function leftBehind(watch: ProcessTreeWatch, graceMs: number, notTheRuns?: RegExp): Promise<string[]> {
  const left = () => watch.alive().filter((seen) => !notTheRuns?.test(seen.command));
  await waitFor(() => left().length === 0, 'every process of the run gone', graceMs, 500).catch(() => {});
  return left().map((seen) => `pid ${seen.pid}: ${seen.command}`);
}
/**
 * A run in this worker is watched as this worker's children, among which are the worker's own: its reaper, the esbuild
 * service of its transforms.
 */
const thisWorkersOwn = /process-group-reaper|esbuild --service/;

const saw = (watch: ProcessTreeWatch, what: RegExp) =>
  watch.seen().some((seen: SeenProcess) => what.test(seen.command));

/** The data directories of the Postgres clusters the watch saw (`postgres -D <dir>/data`) that are still on disk. */
const dataLeftBehind = (watch: ProcessTreeWatch) =>
  watch
    .seen()
    .map((seen) => /postgres -D (\S+)\/data /.exec(seen.command)?.[1])
    .filter((directory): directory is string => directory !== undefined && existsSync(directory));

/** The fixture's chaos run in a vitest of its own, its environment marked so the watch finds its daemons too. */
function startFixture(
  marker: string,
  timeoutMs: number,
): { vitest: ChildProcess; output: () => string; exited: Promise<unknown> } {
  // The nested vitest must not take itself for one of this run's workers.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')));
  const vitest = startedProcesses.spawn(process.execPath, [vitestBin, 'run', '--config', fixtureConfig], {
    cwd: repository,
    env: { ...env, CHAOS_RUN_MARKER: marker, CHAOS_FIXTURE_TIMEOUT_MS: String(timeoutMs), FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    label: 'vitest (chaos fixture)',
  });
  let output = '';
  vitest.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  vitest.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { vitest, output: () => output, exited: new Promise((resolve) => vitest.once('exit', resolve)) };
}

let watch: ProcessTreeWatch | null = null;
afterEach(() => watch?.stop());

describe('a chaos run in a vitest of its own', () => {
  it('cut short by its test timeout, stops its fleet, Redis and Postgres, and prints what it saw first', async () => {
    const marker = `chaos-run-${randomBytes(6).toString('hex')}`;
    // A timeout long enough for the fleet to be up on a loaded machine; the run itself would go on for 15 minutes.
    const fixture = startFixture(marker, 60_000);
    watch = new ProcessTreeWatch(fixture.vitest.pid!, marker);
    await fixture.exited;

    expect(await leftBehind(watch, 60_000)).toEqual([]);
    // What there was to leave behind: the run got as far as its fleet.
    expect(saw(watch, /fleet\.js start --role poller/)).toBe(true);
    expect(saw(watch, /redis-server/)).toBe(true);
    expect(saw(watch, /postgres -D/)).toBe(true);
    expect(dataLeftBehind(watch)).toEqual([]);
    // The report came out, though the test's own error was the timeout.
    expect(fixture.output()).toMatch(/chaos run failed: aborted: Test timed out/);
    expect(fixture.output()).toMatch(/timeline:[\s\S]*poller-1 started \(pid \d+\)/);
  }, 240_000);

  it('whose worker is SIGKILLed while the fleet runs, leaves nothing behind: the reaper stops it all', async () => {
    const marker = `chaos-run-${randomBytes(6).toString('hex')}`;
    const fixture = startFixture(marker, 600_000);
    watch = new ProcessTreeWatch(fixture.vitest.pid!, marker);
    const fleetRunning = () => watch!.alive().filter((seen) => /fleet\.js start/.test(seen.command));
    await waitFor(() => fleetRunning().length >= 5, 'the fleet of the run started', 180_000, 500);
    // The worker is the fleet's parent: killed outright, it runs no handler at all, as at vitest's teardown.
    const worker = parentPid(fleetRunning()[0]!.pid);
    expect(worker).toBeGreaterThan(1);
    process.kill(worker!, 'SIGKILL');
    await fixture.exited;

    expect(await leftBehind(watch, 60_000)).toEqual([]);
    expect(saw(watch, /redis-server/)).toBe(true);
    expect(saw(watch, /postgres -D/)).toBe(true);
    expect(dataLeftBehind(watch)).toEqual([]);
  }, 300_000);
});

describe('a chaos run that throws half-way', () => {
  it.each<ChaosStage>(['services started', 'fleet started'])(
    'at "%s", stops what it started and prints what it saw before it throws',
    async (failAt) => {
      const marker = `chaos-run-${randomBytes(6).toString('hex')}`;
      // Redis and postmaster inherit this worker's environment; the fleet is watched as its children.
      vi.stubEnv('CHAOS_RUN_MARKER', marker);
      watch = new ProcessTreeWatch(process.pid, marker);
      const printed = vi.spyOn(console, 'log');
      let fleetAtFailure = 0;
      try {
        const run = runChaos({
          dossiersPerProvince: 100,
          durationMs: 60_000,
          provinceFaultsOnlyMs: 5_000,
          killEveryMs: 2_000,
          outageMs: 10_000,
          changesPerSecond: 20,
          maxWaitMs: 60_000,
          onStage: (stage) => {
            if (stage !== failAt) return;
            // What there is to leave behind, seen now: the fleet just spawned is SIGKILLed faster than the watch looks.
            fleetAtFailure = watch!.alive().filter((seen) => /fleet\.js start/.test(seen.command)).length;
            throw new Error(`made to fail at ${stage}`);
          },
        });
        await expect(run).rejects.toThrow(`chaos run failed: made to fail at ${failAt}`);
        const report = printed.mock.calls.map((call) => call.join(' ')).join('\n');
        expect(report).toContain(`stage: ${failAt}`);
        expect(report).toMatch(/own Postgres running: true/); // taken before anything was stopped
      } finally {
        printed.mockRestore();
        vi.unstubAllEnvs();
      }
      expect(await leftBehind(watch, 30_000, thisWorkersOwn)).toEqual([]);
      expect(saw(watch, /redis-server/)).toBe(true);
      expect(saw(watch, /postgres -D/)).toBe(true);
      expect(dataLeftBehind(watch)).toEqual([]);
      expect(fleetAtFailure).toBe(failAt === 'fleet started' ? 5 : 0);
    },
    180_000,
  );
});

describe('the process registry', () => {
  it('tracks a Postgres and a Redis restarted mid-run by their new pids, and stops them when the test is over', async () => {
    const marker = `chaos-run-${randomBytes(6).toString('hex')}`;
    vi.stubEnv('CHAOS_RUN_MARKER', marker);
    watch = new ProcessTreeWatch(process.pid, marker);
    const postgres = await OwnPostgres.start();
    const redis = await OwnRedis.start();
    const trackedNow = (label: RegExp) =>
      startedProcesses
        .tracked()
        .filter((group) => label.test(group.label))
        .map((group) => group.pgid);
    const [postmasterBefore] = trackedNow(/^postgres /);
    const [redisBefore] = trackedNow(/^redis-server /);
    postgres.restart();
    await redis.restartEmpty();
    vi.unstubAllEnvs();

    const [postmasterAfter] = trackedNow(/^postgres /);
    const [redisAfter] = trackedNow(/^redis-server /);
    expect(trackedNow(/^postgres /)).toHaveLength(1);
    expect(trackedNow(/^redis-server /)).toHaveLength(1);
    expect(postmasterAfter).not.toBe(postmasterBefore);
    expect(redisAfter).not.toBe(redisBefore);
    // What every test file's afterAll does, with neither service's owner stopping it.
    await startedProcesses.stopAll();
    expect(await leftBehind(watch, 30_000, thisWorkersOwn)).toEqual([]);
    expect(saw(watch, /postgres -D/)).toBe(true);
    expect(dataLeftBehind(watch)).toEqual([]);
    postgres.stop(); // nothing left to stop: it says so and does not throw
  }, 120_000);

  it('SIGKILLs a process that ignores SIGTERM, and the processes it started, after the grace period', async () => {
    const registry = new ProcessGroupRegistry();
    // A shell and two children, all ignoring SIGTERM (an ignored signal stays ignored across exec).
    const stubborn = registry.spawn('sh', ['-c', 'trap "" TERM; sleep 600 & sleep 600 & wait'], {
      stdio: 'ignore',
      label: 'stubborn shell',
    });
    watch = new ProcessTreeWatch(stubborn.pid!);
    await waitFor(
      () => watch!.alive().filter((seen) => /^sleep 600/.test(seen.command)).length === 2,
      'both sleeps started',
      30_000,
    );
    const stopped = await registry.stopAll(2_000);

    expect(stopped).toEqual([`stubborn shell (pid ${stubborn.pid}): SIGKILLed, still running 2000 ms after SIGTERM`]);
    expect(await leftBehind(watch, 10_000)).toEqual([]);
    expect(isGroupAlive(stubborn.pid!)).toBe(false);
    expect(registry.tracked()).toEqual([]);
  }, 60_000);
});

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A process group a test started: its leader and everything the leader started in turn. */
export interface StartedGroup {
  /** The group's id: the pid of the process it was started as (`detached: true` makes that a group leader). */
  readonly pgid: number;
  /** What it is, for the line that names a group left running: `fleet start --role writer`, `redis-server :6380`. */
  readonly label: string;
  /** The signal that asks it to stop; SIGKILL follows after the grace period. */
  readonly stopSignal: NodeJS.Signals;
}

/** How a process is started by `ProcessGroupRegistry.spawn`. */
export interface TrackedSpawnOptions extends Omit<SpawnOptions, 'detached'> {
  /** What it is, for reports. Default: the command and its arguments. */
  label?: string;
  /** The signal that asks it to stop. Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
}

const reaperScript = fileURLToPath(new URL('./process-group-reaper.ts', import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/** Whether any process of the group is alive. */
export function isGroupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1)
    throw new Error(`refusing to signal process group ${pgid}: that would be our own group or every process`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Every process group a test worker started, so that none outlives the test, however the test ends.
 *
 * Each child is started as the leader of a group of its own, so one kill(-pgid) reaches the whole tree it
 * grows (node → tsx → node; a shell and what it runs). Three ways empty the registry, each for an end the
 * one before cannot see:
 * - `stopAll`, from the `afterAll` every test file gets (`stop-started-processes.ts`): a test that passed,
 *   failed, threw or timed out (vitest runs afterAll after a timeout, while the timed-out test's code may
 *   still be running);
 * - the worker's 'exit' event, for a worker that exits before its afterAll (process.exit): synchronous
 *   SIGKILLs, the only thing an exit handler can do;
 * - a reaper process holding the registry (its stdin), for a worker that dies without either: vitest ends
 *   a worker with SIGTERM then SIGKILL, which run no handler. The pipe's end closes whatever way the worker
 *   dies, so this needs nothing of the children themselves (redis-server, postgres or `fleet start` need
 *   not watch their parent), and nothing of product code.
 */
export class ProcessGroupRegistry {
  private readonly groups = new Map<number, StartedGroup>();
  private readonly directories = new Set<string>();
  private reaper: ChildProcess | null = null;
  private exitHookInstalled = false;

  /**
   * Starts a process as the leader of a group of its own, tracked until the leader exits; then whatever it left in its
   * group is SIGKILLed.
   */
  spawn(command: string, args: readonly string[], options: TrackedSpawnOptions = {}): ChildProcess {
    const { label = [command, ...args].join(' '), stopSignal = 'SIGTERM', ...spawnOptions } = options;
    const child = spawn(command, args, { ...spawnOptions, detached: true });
    const pgid = child.pid;
    // No pid: it did not start (the 'error' event says why); there is nothing to track.
    if (pgid === undefined) return child;
    this.track(pgid, label, stopSignal);
    child.once('exit', () => {
      // A leader gone leaves its group to nobody: whatever is left in it goes too.
      signalGroup(pgid, 'SIGKILL');
      this.forget(pgid);
    });
    return child;
  }

  /** Tracks a group started some other way (a postmaster that pg_ctl started and let go of). */
  track(pgid: number, label: string, stopSignal: NodeJS.Signals = 'SIGTERM'): void {
    signalGroup(pgid, 0); // refuses the ids that must never be signalled before anything is recorded
    this.installLastResorts();
    this.groups.set(pgid, { pgid, label, stopSignal });
    this.tellReaper(`track ${pgid} ${stopSignal}`);
  }

  /** Stops tracking a group: it is gone, or its owner stopped it. */
  forget(pgid: number): void {
    if (!this.groups.delete(pgid)) return;
    this.tellReaper(`forget ${pgid}`);
  }

  /**
   * Removes a directory once the test is over, however it ends, after the groups are gone (a Postgres
   * cluster's data directory: tens of megabytes a run). Only a directory inside the system's temporary one.
   */
  trackDirectory(path: string): void {
    const inside = relative(tmpdir(), resolve(path));
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
      throw new Error(`refusing to remove ${path} for a test: only a directory inside ${tmpdir()}`);
    this.installLastResorts();
    this.directories.add(resolve(path));
    this.tellReaper(`directory ${JSON.stringify(resolve(path))}`);
  }

  /** Removes a tracked directory now (its owner is done with it). */
  removeDirectory(path: string): void {
    rmSync(resolve(path), { recursive: true, force: true });
    if (this.directories.delete(resolve(path))) this.tellReaper(`forget-directory ${JSON.stringify(resolve(path))}`);
  }

  /** The groups tracked now. */
  tracked(): StartedGroup[] {
    return [...this.groups.values()];
  }

  /** Sends a signal to a tracked group; false when nothing of it is left. */
  signal(pgid: number, signal: NodeJS.Signals): boolean {
    return signalGroup(pgid, signal);
  }

  /**
   * Stops every tracked group: its stop signal, then SIGKILL for what is still alive after `graceMs` (default
   * 10 s); then removes the tracked directories. Never throws; resolves with the groups that were still
   * running, each with how it ended.
   */
  async stopAll(graceMs = 10_000): Promise<string[]> {
    const running = this.tracked().filter((group) => isGroupAlive(group.pgid));
    for (const group of running) signalGroup(group.pgid, group.stopSignal);
    await waitUntilGone(running, graceMs);
    const stopped = running.map((group) => {
      if (!isGroupAlive(group.pgid)) return `${group.label} (pid ${group.pgid}): stopped on ${group.stopSignal}`;
      signalGroup(group.pgid, 'SIGKILL');
      return `${group.label} (pid ${group.pgid}): SIGKILLed, still running ${graceMs} ms after ${group.stopSignal}`;
    });
    await waitUntilGone(running, 10_000); // SIGKILL cannot be ignored; this is the kernel's time to reap
    for (const group of this.tracked()) if (!isGroupAlive(group.pgid)) this.forget(group.pgid);
    this.removeDirectories();
    return stopped;
  }

  /**
   * SIGKILLs every tracked group at once and removes the tracked directories, synchronously (the worker's 'exit'
   * handler).
   */
  killAllNow(): void {
    for (const group of this.tracked()) {
      signalGroup(group.pgid, 'SIGKILL');
      this.forget(group.pgid);
    }
    this.removeDirectories();
  }

  private removeDirectories(): void {
    for (const directory of [...this.directories]) {
      try {
        this.removeDirectory(directory);
      } catch {
        // Left on disk, in the temporary directory: not a reason to fail a test or an exit.
      }
    }
  }

  private installLastResorts(): void {
    if (!this.exitHookInstalled) {
      this.exitHookInstalled = true;
      process.once('exit', () => this.killAllNow());
    }
    if (this.reaper === null) {
      const reaper = spawn(process.execPath, ['--import', tsxLoader, reaperScript], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      // Neither the reaper nor its pipe may keep the worker alive: the worker's end is what it waits for.
      reaper.unref();
      (reaper.stdin as Socket).unref();
      // A reaper that died takes its guarantee with it, not the test: the other two ways still hold.
      reaper.stdin!.on('error', () => {});
      reaper.once('exit', () => {
        if (this.reaper === reaper) this.reaper = null;
      });
      this.reaper = reaper;
      // A reaper started again (the first one died) learns what is already tracked.
      for (const group of this.groups.values()) this.tellReaper(`track ${group.pgid} ${group.stopSignal}`);
      for (const directory of this.directories) this.tellReaper(`directory ${JSON.stringify(directory)}`);
    }
  }

  private tellReaper(line: string): void {
    // A write to a pipe goes out at once when the pipe is free (libuv writes before queueing), so a worker
    // killed right after a spawn has already told its reaper.
    if (this.reaper?.stdin?.writable) this.reaper.stdin.write(`${line}\n`);
  }
}

async function waitUntilGone(groups: readonly StartedGroup[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groups.some((group) => isGroupAlive(group.pgid)) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
}

/** The registry of this test worker: every process and service a test starts goes through it. */
export const startedProcesses = new ProcessGroupRegistry();

// A `fleet` child process of the bench (the simulator, a poller, a writer), each in a process group of its own so
// that stopping it stops whatever it started too. Every group still running is killed when the bench exits, however
// it exits: its end, an error, Ctrl-C or SIGTERM (test/support/process-group-reaper.ts does the same for tests).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Config } from '../../../config/env.js';
import { benchNodeArgs, checkoutFleetBin, fleetBin } from '../bench-support.js';

/** Process groups started here and not yet gone. */
const groups = new Set<number>();

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** SIGKILLs every group still running; synchronous, so that it can run in an exit handler. */
function killAll(): void {
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
  groups.clear();
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

/** The environment of a child: the configuration as variables, plus `extra` (which wins); nothing else inherited. */
function childEnvironment(config: Config, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [key, value] of Object.entries(config)) if (value !== undefined) env[key] = String(value);
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

/** One `fleet …` child process in its own process group. */
export class BenchChild {
  private output = '';
  private readonly exit: Promise<void>;

  private constructor(
    /** What it is, for messages: `simulator`, `poller`, `writer 2`. */
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    // Its output is kept (the last 64 KiB, for the error when it fails), not shown: stdout is the bench's table.
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-65_536));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => child.on('exit', () => resolve()));
    child.on('exit', () => groups.delete(child.pid ?? -1));
  }

  /** Starts `fleet <args>` with the configuration as its environment, plus `extraEnv`; LOG_LEVEL warn unless given. */
  static start(name: string, config: Config, args: string[], extraEnv: Record<string, string> = {}): BenchChild {
    installHandlers();
    // The build has the production verbs only: the simulator, a tool, always runs from the checkout, and is not
    // given the workers' Node flags (benchNodeArgs).
    const command = args[0] === 'simulate' ? [checkoutFleetBin] : [...benchNodeArgs(), fleetBin];
    const child = spawn(process.execPath, [...command, ...args], {
      env: childEnvironment(config, extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid) groups.add(child.pid);
    return new BenchChild(name, child);
  }

  /** The process id: that of the Node process doing the work (`fleet.js` runs its command in-process). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until GET `url` answers 2xx; fails with the process's output if it exits or `timeoutMs` passes first. */
  async ready(url: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited)
        throw new Error(
          `bench: the ${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready; its output:\n${this.output.trim() || '(none)'}`,
        );
      try {
        if ((await fetch(url)).ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(
          `bench: the ${this.name} did not answer ${url} within ${timeoutMs} ms; its output:\n${this.output.trim() || '(none)'}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Fails with the process's output if it has exited: a child that dies mid-phase must not look like a slow one. */
  assertRunning(): void {
    if (this.exited)
      throw new Error(
        `bench: the ${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) during the phase; its output:\n${this.output.trim() || '(none)'}`,
      );
  }

  /**
   * Its resident memory now (VmRSS) and the most it has held (VmHWM), in bytes; NaN off Linux or once it is gone.
   */
  memory(): { rss: number; peak: number } {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
      return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
    } catch {
      return { rss: NaN, peak: NaN };
    }
  }

  /** SIGTERM to its group, SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    signalGroup(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
    groups.delete(this.pid);
  }
}

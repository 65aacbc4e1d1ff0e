import type { ChildProcess } from 'node:child_process';
import type { Config } from '../../config/env.js';
import { checkoutFleetScript } from './fleet-executables.js';
import { startedProcesses } from './process-group-registry.js';

/** A `fleet` command running as a real child process. */
export interface FleetProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) when it ends. */
  exited: Promise<number | string>;
  /**
   * Sends a signal to its whole process group: the command and anything it started, as an orchestrator kills a
   * container.
   */
  killGroup(signal: NodeJS.Signals): void;
}

/**
 * Runs `fleet <args>` with the test's configuration in its environment, in a process group of its own that
 * the test worker's registry stops however the test ends (see ProcessGroupRegistry).
 */
export function spawnFleet(
  args: string[],
  config: Partial<Config> | Record<string, string>,
  extraEnv: Record<string, string> = {},
  /** The `fleet` script to run: default the checkout's; a bundle's dist/fleet.js to test what the image runs. */
  script = checkoutFleetScript(),
): FleetProcess {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extraEnv };
  for (const [key, value] of Object.entries(config)) env[key] = String(value);
  const child = startedProcesses.spawn(process.execPath, [script, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    label: `fleet ${args.join(' ')}`,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) startedProcesses.signal(child.pid, signal);
  };
  return { child, output: () => output, exited, killGroup };
}

/** Runs a `fleet` command to its end. */
export async function runFleet(
  args: string[],
  config: Record<string, string>,
  script = checkoutFleetScript(),
): Promise<{ code: number | string; output: string }> {
  const run = spawnFleet(args, config, {}, script);
  const code = await run.exited;
  return { code, output: run.output() };
}

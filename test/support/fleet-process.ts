import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/env.js';

const fleetBin = fileURLToPath(new URL('../../scripts/fleet.js', import.meta.url));

/** A `fleet` command running as a real child process. */
export interface FleetProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) when it ends. */
  exited: Promise<number | string>;
}

/** Runs `fleet <args>` with the test's configuration in its environment. */
export function spawnFleet(args: string[], config: Partial<Config> | Record<string, string>, extraEnv: Record<string, string> = {}): FleetProcess {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extraEnv };
  for (const [key, value] of Object.entries(config)) env[key] = String(value);
  const child = spawn(process.execPath, [fleetBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, output: () => output, exited };
}

/** Runs a `fleet` command to its end. */
export async function runFleet(args: string[], config: Record<string, string>): Promise<{ code: number | string; output: string }> {
  const run = spawnFleet(args, config);
  const code = await run.exited;
  return { code, output: run.output() };
}

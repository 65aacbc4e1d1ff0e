import { createRequire } from 'node:module';
import { checkoutFleetScript, productionFleetArguments } from '../../support/fleet-executables.js';
import { startedProcesses } from '../../support/process-group-registry.js';

const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/** How a `fleet` run ended: its exit code, and stdout and stderr apart. */
export interface FleetRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** The environment of a run: only the configuration given, as a container would have it. */
export function fleetEnvironment(config: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...config };
}

/** Runs a command line (`node …`, or a shell pipeline) in a process group of its own, to its end. */
export function runApart(
  command: string,
  args: readonly string[],
  config: Record<string, string>,
  onStdout?: (chunk: Buffer, stop: () => void) => void,
): Promise<FleetRun> {
  const child = startedProcesses.spawn(command, args, {
    env: fleetEnvironment(config),
    stdio: ['ignore', 'pipe', 'pipe'],
    label: [command, ...args].join(' '),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(chunk, () => child.stdout!.destroy());
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', stdout, stderr })),
  );
}

/** Runs `fleet <args>` (the checkout's, or the production one) to its end, with stdout and stderr apart. */
export function runFleetApart(
  args: readonly string[],
  config: Record<string, string>,
  options: { production?: boolean } = {},
): Promise<FleetRun> {
  return options.production
    ? runApart(process.execPath, [...productionFleetArguments(tsxLoader), ...args], config)
    : runApart(process.execPath, [checkoutFleetScript(), ...args], config);
}

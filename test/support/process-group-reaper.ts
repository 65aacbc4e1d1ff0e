// The reaper of one test worker, a process of its own (started by ProcessGroupRegistry, see there for why).
//
// Its stdin is a pipe from the worker, carrying one line per change to the worker's registry:
//   track <pgid> <signal>        a process group the worker started, and the signal that asks it to stop
//   forget <pgid>                that group is gone, or stopped by the worker itself
//   directory <JSON path>        a temporary directory to remove once the groups are gone (a cluster's data)
//   forget-directory <JSON path> removed already
// The kernel closes the pipe whenever the worker ends, however it ends: a clean exit, vitest's SIGTERM and
// SIGKILL at teardown, a crash, the OOM killer. At that end of input, every group still tracked gets its
// signal, SIGKILL after the grace period, the directories are removed, and the reaper exits. It runs in a
// group of its own, so a signal sent to the worker's group does not reach it before it has done its work.
import { rmSync } from 'node:fs';

/** How long a group has between its stop signal and SIGKILL. */
const graceMs = 5000;

const tracked = new Map<number, NodeJS.Signals>();
const directories = new Set<string>();

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    // EPERM: the group exists but is not ours to signal (cannot happen for our own children); only ESRCH means gone.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function apply(line: string): void {
  const [verb, pgidText, signal] = line.trim().split(' ');
  if (verb === 'directory' || verb === 'forget-directory') {
    const path = JSON.parse(line.slice(verb.length + 1)) as string; // the registry checked it is a temporary one
    if (verb === 'directory') directories.add(path);
    else directories.delete(path);
    return;
  }
  const pgid = Number(pgidText);
  if (!Number.isInteger(pgid) || pgid <= 1) return; // never -0 or -1: those would signal our own group, or everything
  if (verb === 'track') tracked.set(pgid, (signal ?? 'SIGTERM') as NodeJS.Signals);
  else if (verb === 'forget') tracked.delete(pgid);
}

let reaping = false;
async function reap(): Promise<void> {
  if (reaping) return;
  reaping = true;
  for (const [pgid, signal] of tracked) signalGroup(pgid, signal);
  const deadline = Date.now() + graceMs;
  while ([...tracked.keys()].some((pgid) => signalGroup(pgid, 0)) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pgid of tracked.keys()) signalGroup(pgid, 'SIGKILL');
  for (const directory of directories) {
    try {
      rmSync(directory, { recursive: true, force: true });
    } catch {
      // Nothing to tell anyone: the worker is gone.
    }
  }
  process.exit(0);
}

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) apply(line);
});
process.stdin.on('end', () => void reap());
process.stdin.on('close', () => void reap());
process.stdin.on('error', () => void reap());
// Its own stop requests are not the worker's end: a terminal's Ctrl-C or a sweep must not leave the groups behind.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void reap());

import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGroupAlive, startedProcesses } from './process-group-registry.js';

/** Binds a server to `port` (0: any) on loopback and lets it go; the port bound, or null when it was taken. */
async function tryPort(port: number): Promise<number | null> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!bound) return null;
  const chosen = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return chosen;
}

/**
 * A free TCP port on loopback, below the kernel's ephemeral range (32768 and up here). A server a test stops and
 * starts again must come back on its port, but while it is down, clients reconnecting to a port of that range can
 * be given it as their own source port and connect to themselves (TCP simultaneous open), holding it.
 */
export async function sparePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryPort(10_000 + Math.floor(Math.random() * 22_000));
    if (port !== null) return port;
  }
  return (await tryPort(0))!;
}

async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1');
      socket.on('listening', () => socket.close(() => resolve(false)));
      socket.on('error', () => resolve(true));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A Redis server of a test's own, on a spare port, keeping nothing on disk: a restart loses its data, as a
 * Redis without persistence does. Never the shared Redis. Its process, and each one a restart starts, is
 * tracked by the worker's registry, so it is stopped however the test ends.
 */
export class OwnRedis {
  private process: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    // A spare port can be taken by another test between choosing it and binding it: try a fresh one then.
    for (let attempt = 1; ; attempt++) {
      const redis = new OwnRedis(await sparePort());
      try {
        await redis.launch();
        return redis;
      } catch (error) {
        await redis.stop().catch(() => {});
        if (attempt >= 3) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    this.process = startedProcesses.spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      {
        stdio: 'ignore',
        label: `redis-server :${this.port}`,
      },
    );
    await waitForPort(this.port);
  }

  /** Kills it and starts it again, empty. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Whether its process is still alive. */
  isRunning(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Kills it (SIGKILL) and waits for it to be gone; nothing if it is not running. */
  async stop(): Promise<void> {
    const running = this.process;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }
}

/** Runs a PostgreSQL command as the `postgres` system user when we are root (initdb refuses root). */
function asOwner(command: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  execFileSync(root ? 'runuser' : command, root ? ['-u', 'postgres', '--', command, ...args] : args, {
    stdio: 'ignore',
  });
}

/**
 * A PostgreSQL cluster of a test's own (initdb in a temporary folder, a spare port). Never the shared one.
 * pg_ctl lets go of the postmaster it starts (a session of its own, parent init), so its pid is read from
 * postmaster.pid after every start and restart and tracked by the worker's registry: stopped (SIGQUIT, an
 * immediate shutdown that takes its backends along) however the test ends.
 */
export class OwnPostgres {
  /** The postmaster running now, as tracked by the registry. */
  private postmasterPid: number | null = null;

  private constructor(
    readonly port: number,
    private readonly dataDir: string,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const root = mkdtempSync(join(tmpdir(), 'dossier-sync-pg-'));
    startedProcesses.trackDirectory(root);
    const postgres = new OwnPostgres(await sparePort(), join(root, 'data'));
    try {
      chmodSync(root, 0o755);
      if (process.getuid?.() === 0)
        chownSync(
          root,
          Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
          Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
        );
      asOwner('initdb', ['-D', postgres.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
      postgres.control('start');
    } catch (error) {
      // pg_ctl may give up waiting on a postmaster that is still starting: it must not be left running.
      postgres.stop();
      throw error;
    }
    return postgres;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/dossier_sync`;
  }

  private control(action: 'start' | 'restart' | 'stop', mode = 'fast'): void {
    try {
      asOwner('pg_ctl', [
        '-D',
        this.dataDir,
        '-w',
        '-m',
        mode,
        '-l',
        join(this.dataDir, '..', 'server.log'),
        '-o',
        `-p ${this.port} -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off`,
        action,
      ]);
    } finally {
      // Whatever pg_ctl did, even when it failed, the postmaster that runs now is the one tracked.
      this.trackPostmaster();
    }
  }

  /** Tracks the postmaster named in postmaster.pid, and stops tracking one that is gone. */
  private trackPostmaster(): void {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    const current = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
    const running = Number.isInteger(current) && current > 1 && isGroupAlive(current) ? current : null;
    if (this.postmasterPid !== null && this.postmasterPid !== running) startedProcesses.forget(this.postmasterPid);
    if (running !== null && running !== this.postmasterPid)
      startedProcesses.track(running, `postgres :${this.port}`, 'SIGQUIT');
    this.postmasterPid = running;
  }

  /** Whether its postmaster is alive (`pg_ctl status`). */
  isRunning(): boolean {
    try {
      asOwner('pg_ctl', ['-D', this.dataDir, 'status']);
      return true;
    } catch {
      return false;
    }
  }

  /** The last lines of its server log, for a failing test's report. */
  logTail(lines = 15): string {
    const file = join(this.dataDir, '..', 'server.log');
    return existsSync(file)
      ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
      : '(no server log)';
  }

  /** Crashes it (immediate shutdown: no checkpoint, connections cut) and starts it again. */
  restart(): void {
    this.control('restart', 'immediate');
  }

  /** Stops it (immediate shutdown; SIGKILL if that fails) and removes its files. Never throws. */
  stop(): void {
    try {
      this.control('stop', 'immediate');
    } catch {
      // Already down (a failing test's report says so): a cleanup must not hide that report.
    } finally {
      const postmaster = this.postmasterPid;
      if (postmaster !== null) {
        // pg_ctl failed while it runs: its backends notice their postmaster's death and exit.
        startedProcesses.signal(postmaster, 'SIGKILL');
        startedProcesses.forget(postmaster);
        this.postmasterPid = null;
      }
      startedProcesses.removeDirectory(join(this.dataDir, '..'));
    }
  }
}

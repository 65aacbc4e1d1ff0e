// What the benchmarks in scripts/tools share: a fresh database next to the configured one, `fleet` processes on
// free ports (started, awaited, measured and stopped), and HTTP load: autocannon's closed loop, and an open loop at a
// steady rate over a lean keep-alive client.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Config } from '../../config/env.js';
import { createDatabase } from '../../db/database.js';
import { migrateCommand } from '../cli/commands/migrate.js';

/** The checkout's `fleet`: the source through tsx, tools' verbs (simulate, demo, bench) included. */
export const checkoutFleetBin = fileURLToPath(new URL('../fleet.js', import.meta.url));

/** The `fleet` executable of the benchmark's workers: the checkout's, or the build after useCompiledFleet(). */
export let fleetBin = checkoutFleetBin;

/**
 * Runs every `fleet` process of the benchmark from the build (`npm run build`, run here first so it is never stale),
 * as the production image runs it, bundled: through tsx, a command compiles the fleet's TypeScript as it loads it —
 * seconds of a command's start on a loaded machine. The build has the production verbs only (not simulate, demo,
 * bench).
 */
export function useCompiledFleet(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error(`npm run build exited with ${build.status ?? build.signal}`);
  fleetBin = fileURLToPath(new URL('../../dist/fleet.js', import.meta.url));
  imageNodeArgs = imageNodeOptions(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'));
}

/** The image's Node options, once the benchmark runs the build as the image does (useCompiledFleet). */
let imageNodeArgs: string[] = [];

/**
 * The Node options of the Dockerfile's runtime stage, as arguments: its `ENV NODE_OPTIONS=…` (space-separated), then
 * the flags its `ENTRYPOINT ["node", …, "dist/fleet.js", …]` gives Node before the script (V8's GC flags, which
 * Node refuses in NODE_OPTIONS).
 */
export function imageNodeOptions(dockerfile: string): string[] {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const value = /^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S+))\s*$/m.exec(runtime);
  const nodeOptions = (value?.[1] ?? value?.[2] ?? '').split(' ').filter(Boolean);
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtime)?.[1];
  const command = entrypoint === undefined ? [] : (JSON.parse(entrypoint) as unknown[]);
  const flags: string[] = [];
  if (command[0] === 'node')
    for (const argument of command.slice(1)) {
      if (typeof argument !== 'string' || !argument.startsWith('-')) break;
      flags.push(argument);
    }
  return [...nodeOptions, ...flags];
}

/**
 * The arguments of the Node of a benchmark's fleet processes, before the script: the image's NODE_OPTIONS when the
 * fleet runs from the build (the heap the image gives it), then BENCH_NODE_ARGS (space-separated; the later flag wins):
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a role under load (Node refuses profiler flags in
 * NODE_OPTIONS), or another heap size to try (`--max-old-space-size=256`).
 */
export function benchNodeArgs(): string[] {
  return [...imageNodeArgs, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
}

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function maintenanceUrl(url: string): string {
  return Object.assign(new URL(url), { pathname: '/postgres' }).toString();
}

/** Drops the database a URL names, whoever is connected to it. */
export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  const admin = createDatabase(maintenanceUrl(url), { maxConnections: 1 });
  try {
    await sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(admin);
  } finally {
    await admin.destroy();
  }
}

/**
 * A fresh, migrated database next to the configured one (`<configured name>_<suffix>`, dropped first if a previous
 * run left it), and a queue prefix of the run's own, so a measurement starts from empty tables and queues.
 */
export async function freshDatabase(config: Config, suffix: string): Promise<Config> {
  const url = new URL(config.DATABASE_URL);
  url.pathname = `/${url.pathname.replace(/^\//, '') || 'dossier_sync'}_${suffix}`;
  await dropDatabase(url.toString());
  const fresh = { ...config, DATABASE_URL: url.toString(), QUEUE_PREFIX: `bench-${suffix}-${process.pid}` };
  await migrateCommand(fresh);
  return fresh;
}

/** Removes every Redis key under `<prefix>:`. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Every child process started here and still running, so that an interrupted benchmark leaves none behind. */
const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

/** SIGKILLs every `fleet` child process started here that is still running; synchronous, for an exit handler. */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** The environment of a `fleet` child: the configuration as variables, plus `extra` (which wins). */
function childEnvironment(config: Config, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [key, value] of Object.entries(config)) env[key] = String(value);
  return { ...env, ...extra };
}

/** What a `fleet` command printed and how it ended. */
export interface FleetRun {
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a `fleet` command to its end; rejects with its stderr when it exits non-zero. */
export function runFleet(config: Config, args: string[], extraEnv: Record<string, string> = {}): Promise<FleetRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [fleetBin, ...args], {
    env: childEnvironment(config, { LOG_LEVEL: 'warn', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ stdout, stderr, seconds });
      else
        reject(
          new Error(
            `fleet ${args.join(' ')} exited with ${code ?? signal}: ${(stderr.trim() || stdout.trim()).slice(0, 2000)}`,
          ),
        );
    });
  });
}

/**
 * A `fleet start --role ROLE` child process on a port of its own. Its output goes to this process's stderr (so a
 * benchmark's stdout holds only its figures) and the last 64 KiB of it are kept for the error when it fails.
 */
export class FleetProcess {
  private output = '';
  private readonly exit: Promise<void>;

  private constructor(
    readonly role: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.output = (this.output + chunk.toString()).slice(-65_536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => child.on('exit', () => resolve()));
  }

  /**
   * Starts the role with the configuration as its environment, plus `extraEnv`; LOG_LEVEL warn unless given;
   * its Node takes benchNodeArgs().
   */
  static start(config: Config, role: string, port: number, extraEnv: Record<string, string> = {}): FleetProcess {
    const env = childEnvironment(config, { LOG_LEVEL: 'warn', ...extraEnv, HTTP_PORT: String(port) });
    const child = spawn(process.execPath, [...benchNodeArgs(), fleetBin, 'start', '--role', role], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new FleetProcess(role, port, track(child));
  }

  /** The process id (that of the Node process serving the role: `fleet.js` runs it in-process). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until GET /readyz answers 200; fails with the process's output if it exits or times out first. */
  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) {
        throw new Error(
          `the ${this.role} exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready; its output:\n${this.output.trim() || '(none)'}`,
        );
      }
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/readyz`)).ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the ${this.role} did not answer /readyz on port ${this.port} within ${timeoutMs} ms; its output:\n${this.output.trim() || '(none)'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The most memory the process has held so far (VmHWM, peak resident set), in bytes; NaN off Linux. */
  peakRssBytes(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN) * 1024;
    } catch {
      return NaN;
    }
  }

  /** CPU time the process has used so far (user + system, from /proc/<pid>/stat), in seconds; NaN off Linux. */
  cpuSeconds(): number {
    try {
      // The fields after the command name (which may hold spaces, so split after its closing parenthesis).
      const fields = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      // utime and stime, fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return NaN;
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  /** SIGKILL at once, synchronously: for a process that is itself exiting. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Waits until `condition` holds, checking every 50 ms; fails naming `what` after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A command-line option that must be a whole number ≥ 1 (`--name`), as a number; a clear error otherwise. */
export function wholeNumberOption(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, not ${value}`);
  return n;
}

/** The value at quantile `q` (0–1) of ascending `sorted` values; NaN when there are none. */
export const quantile = (sorted: ArrayLike<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** The median of some values, in any order: the middle one, or the mean of the two middle ones; NaN when none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
}

/**
 * A lean HTTP/1.1 keep-alive client connection: sends one request at a time and reads the status line and
 * Content-Length of the answer (no chunked bodies). It costs a fraction of node:http's client, so the machine's
 * cores measure the fleet rather than the load generator.
 */
export class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | null = null;
  private failed: ((error: Error) => void) | null = null;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (error) => this.failed?.(error));
    this.socket.on('close', () => this.failed?.(new Error('closed')));
  }

  /** Sends a whole request; resolves with the status of its answer once the answer's body is read. */
  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(request);
    });
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headerEnd = this.buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const head = this.buffer.subarray(0, headerEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffer.length < headerEnd + 4 + length) return;
    this.buffer = this.buffer.subarray(headerEnd + 4 + length);
    const resolve = this.waiting;
    this.waiting = null;
    this.failed = null;
    resolve?.(Number(head.slice(9, 12)));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What one load run measured. Latencies are of the 2xx answers, in milliseconds. */
export interface LoadFigures {
  /** Answers received. */
  answers: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Answers other than 2xx, and requests that got none (connection errors, timeouts). */
  non2xx: number;
  errors: number;
  /** Answers by status code. */
  statuses: Record<string, number>;
}

function figures(latencies: number[], statuses: Map<number, number>, errors: number, seconds: number): LoadFigures {
  const sorted = Float64Array.from(latencies).sort();
  const answers = [...statuses.values()].reduce((a, b) => a + b, 0);
  const non2xx = [...statuses].filter(([status]) => status < 200 || status > 299).reduce((a, [, n]) => a + n, 0);
  return {
    answers,
    seconds,
    perSecond: answers / seconds,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? NaN,
    non2xx,
    errors,
    statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b).map(([status, n]) => [String(status), n])),
  };
}

/**
 * An autocannon run (closed loop: each connection sends its next request when the last is answered; with
 * `overallRate`, autocannon's per-second quota per connection). `nextPath` gives each request its path. Latencies
 * are read from autocannon's response events (exact, sub-millisecond) rather than its integer histogram.
 */
export async function autocannonLoad(options: {
  /** The gateways' ports: one autocannon per port at once, the connections shared out, as behind a balancer. */
  ports: number[];
  headers: Record<string, string>;
  nextPath: () => string;
  connections: number;
  seconds: number;
  overallRate?: number;
}): Promise<LoadFigures> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const share = (total: number, i: number) =>
    Math.floor(total / options.ports.length) + (i < total % options.ports.length ? 1 : 0);
  const results = await Promise.all(
    options.ports.map(
      (port, i) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon(
            {
              url: `http://127.0.0.1:${port}`,
              connections: Math.max(1, share(options.connections, i)),
              duration: options.seconds,
              headers: options.headers,
              requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: options.nextPath() }) }],
              ...(options.overallRate ? { overallRate: Math.max(1, share(options.overallRate, i)) } : {}),
            },
            (error: unknown, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
          );
          instance.on('response', (_client, status, _bytes, milliseconds) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 200 && status <= 299) latencies.push(milliseconds);
          });
        }),
    ),
  );
  return figures(
    latencies,
    statuses,
    results.reduce((sum, result) => sum + result.errors, 0),
    Math.max(...results.map((result) => result.duration)),
  );
}

/**
 * An open loop at a steady `rate` requests/s for `seconds`: request i is due at start + i / rate whatever the
 * answers before it, and is sent on an idle keep-alive connection (a new one while fewer than `maxConnections` are
 * open, else it waits for one); its latency counts from when it was due, so a stall is measured in full (no
 * coordinated omission). Requests still waiting for a connection when the time is up are not sent (`unsent`): an
 * overloaded server shows as a rate not held rather than as a run that never ends.
 */
export async function steadyLoad(options: {
  /** The gateways' ports: request i goes to the port i modulo their number, as a round-robin balancer sends it. */
  ports: number[];
  headers: Record<string, string>;
  nextPath: () => string;
  rate: number;
  seconds: number;
  /** Connections open at most, to all the ports. Default 256. */
  maxConnections?: number;
}): Promise<LoadFigures & { sendLagP99: number; unsent: number; connections: number }> {
  const { ports } = options;
  const heads = ports.map((port) =>
    Object.entries({ host: `127.0.0.1:${port}`, ...options.headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join(''),
  );
  const perPort = Math.max(1, Math.floor((options.maxConnections ?? 256) / ports.length));
  const idle: Connection[][] = ports.map(() => []);
  const open = ports.map(() => new Set<Connection>());
  let opened = 0;
  const latencies: number[] = [];
  const sendLags: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const total = Math.round(options.rate * options.seconds);
  const inFlight: Promise<void>[] = [];
  // Due times of the requests waiting for a connection, oldest first (`waiting` from index `next` on); request i
  // goes to port i modulo the ports' number.
  const waiting: number[] = [];
  let next = 0;
  const begin = performance.now();
  let lastAnswer = begin;

  const dispatch = () => {
    for (;;) {
      if (next >= waiting.length) return;
      const target = next % ports.length;
      if (idle[target]!.length === 0 && open[target]!.size >= perPort) return;
      const dueAt = waiting[next++]!;
      let connection = idle[target]!.pop();
      if (!connection) {
        connection = new Connection(ports[target]!);
        open[target]!.add(connection);
        opened++;
      }
      const used = connection;
      sendLags.push(performance.now() - dueAt);
      inFlight.push(
        used.send(Buffer.from(`GET ${options.nextPath()} HTTP/1.1\r\n${heads[target]}\r\n`)).then(
          (status) => {
            lastAnswer = performance.now();
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 200 && status <= 299) latencies.push(lastAnswer - dueAt);
            idle[target]!.push(used);
            dispatch();
          },
          () => {
            errors++;
            used.close();
            open[target]!.delete(used);
            dispatch();
          },
        ),
      );
    }
  };

  for (let scheduled = 0; scheduled < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * options.rate) + 1);
    for (; scheduled < due; scheduled++) waiting.push(begin + (scheduled * 1000) / options.rate);
    dispatch();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const unsent = waiting.length - next;
  next = waiting.length;
  await Promise.all(inFlight);
  for (const connection of open.flatMap((set) => [...set])) connection.close();
  sendLags.sort((a, b) => a - b);
  return {
    ...figures(latencies, statuses, errors, (lastAnswer - begin) / 1000),
    sendLagP99: quantile(sendLags, 0.99),
    unsent,
    connections: opened,
  };
}

/**
 * Runs a full garbage collection of this process now. A bench whose simulator shares this process calls it before a
 * timed run: a simulated province of a million dossiers is a heap of millions of objects, and the garbage the bench
 * itself made (drift injection copies the whole index) otherwise makes V8 mark all of it during the run, a pause of
 * seconds in the source's answers that no province system has.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

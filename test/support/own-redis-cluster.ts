import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sparePort } from './own-services.js';
import { startedProcesses } from './process-group-registry.js';

const run = promisify(execFile);

/**
 * A real Redis Cluster of a test's own: three masters on spare ports, no replicas, nothing kept on disk (their
 * cluster config files in a temporary folder). Never the shared Redis. Every server is tracked by the worker's
 * registry, so it is stopped however the test ends.
 */
export class OwnRedisCluster {
  private readonly servers: ChildProcess[] = [];
  private constructor(readonly ports: number[]) {}

  /** Starts three masters, joins them (`redis-cli --cluster create`) and waits for `cluster_state:ok`. */
  static async start(masters = 3): Promise<OwnRedisCluster> {
    const ports: number[] = [];
    while (ports.length < masters) {
      const port = await sparePort();
      // The cluster bus listens on port + 10000: both must be free, and distinct from the others'.
      if (port + 10_000 < 65_536 && !ports.includes(port)) ports.push(port);
    }
    const cluster = new OwnRedisCluster(ports);
    const dir = mkdtempSync(join(tmpdir(), 'dossier-sync-redis-cluster-'));
    startedProcesses.trackDirectory(dir);
    try {
      for (const port of ports) {
        cluster.servers.push(
          startedProcesses.spawn(
            'redis-server',
            [
              '--port',
              String(port),
              '--bind',
              '127.0.0.1',
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              join(dir, `nodes-${port}.conf`),
              '--dir',
              dir,
              '--save',
              '',
              '--appendonly',
              'no',
              '--maxmemory-policy',
              'noeviction',
            ],
            { stdio: 'ignore', label: `redis-server (cluster) :${port}` },
          ),
        );
      }
      for (const port of ports) await cluster.waitFor(port, 'PING', (reply) => reply === 'PONG');
      await run('redis-cli', [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      for (const port of ports)
        await cluster.waitFor(port, 'CLUSTER INFO', (reply) => reply.includes('cluster_state:ok'));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The fleet's REDIS_URL for it: every master as a seed node. */
  get url(): string {
    return `redis-cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }

  /** Runs a redis-cli command on one master, e.g. `CLUSTER COUNTKEYSINSLOT 0`. */
  async command(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
    return stdout.trim();
  }

  private async waitFor(port: number, command: string, ok: (reply: string) => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const reply = await this.command(port, ...command.split(' ')).catch(() => '');
      if (ok(reply)) return;
      if (Date.now() > deadline) throw new Error(`redis-server :${port} did not answer ${command} as expected`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills every master (SIGKILL) and waits for each to be gone. */
  async stop(): Promise<void> {
    await Promise.all(
      this.servers
        .filter((server) => server.exitCode === null && server.signalCode === null)
        .map((server) => {
          const exited = new Promise((resolve) => server.once('exit', resolve));
          server.kill('SIGKILL');
          return exited;
        }),
    );
  }
}

// The webhook benchmark (`npm run bench:webhooks`): signed single-update deliveries over loopback to --gateways
// gateway processes (connections round-robin), committed by a writer process, on this machine with Redis and
// Postgres. Two phases, each in a fresh connector of a fresh database:
//   1. sustained: a closed loop of --concurrency senders for --seconds: deliveries acknowledged per second, rows
//      committed per second, and how far the writer was behind when the load stopped;
//   2. latency: an open loop at --rate deliveries/s for --seconds: p50/p99 from the request being sent to its row
//      committed in Postgres, and to its 202.
// Usage: npm run bench:webhooks -- [--seconds 20] [--concurrency 256] [--rate 1000] [--gateways 1]

import { cliActor } from '../../workers/control-plane/audit.js';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { loadConfig } from '../../config/env.js';
import { createDatabase } from '../../db/database.js';
import { saveConnector } from '../../db/queries/connectors.js';
import { issueWebhookSecret } from '../../workers/control-plane/webhook-secrets.js';
import type { Database } from '../../db/schema.js';
import { ingestQueueName } from '../../workers/queue/queues.js';
import { SecretBox } from '../../workers/webhooks/secret-box.js';
import {
  Connection,
  deleteRedisKeys,
  dropDatabase,
  FleetProcess,
  freePort,
  freshDatabase,
  quantile,
  until,
} from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '256' },
    rate: { type: 'string', default: '1000' },
    // Gateway processes, the senders' connections spread over them round-robin (as a balancer would).
    gateways: { type: 'string', default: '1' },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const rate = Number(args.rate);
const gateways = Number(args.gateways);
if (!Number.isInteger(gateways) || gateways < 1)
  throw new Error(`--gateways must be a whole number ≥ 1, not ${args.gateways}`);

/** One signed delivery, ready to go on the wire. */
function signedRequest(key: Buffer, port: number, connectorId: string, code: string, version: number): Buffer {
  const body = JSON.stringify({
    MaHoSo: code,
    MaTinh: '79',
    MaTTHC: '2.000477.000.00.00.H56',
    MaLinhVuc: 'G09-TP',
    DonViXuLy: '000.00.01.H56',
    KenhThucHien: 2,
    LoaiDoiTuong: 1,
    TrangThaiHoSo: String((version % 9) + 1),
    NgayNopHoSo: '20261120083000',
    NgayTiepNhan: '20261120090000',
    NgayHenTra: '20261204170000',
    NgayCapNhat: '20261127080000',
    PhienBan: version,
  });
  const id = `msg_${randomBytes(9).toString('base64url')}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return Buffer.from(
    `POST /v1/webhooks/${connectorId} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `webhook-id: ${id}\r\nwebhook-timestamp: ${timestamp}\r\nwebhook-signature: ${signature}\r\n\r\n${body}`,
  );
}

/** Sends signed single-update deliveries over a pool of keep-alive connections, opened round-robin over `ports`. */
class Sender {
  private readonly key: Buffer;
  private readonly idle: { connection: Connection; port: number }[] = [];
  private readonly all: Connection[] = [];

  constructor(
    private readonly ports: readonly number[],
    private readonly connectorId: string,
    secret: string,
  ) {
    this.key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  }

  /** One update of one dossier; resolves with the status of the answer. */
  async send(code: string, version: number): Promise<number> {
    let open = this.idle.pop();
    if (!open) {
      const port = this.ports[this.all.length % this.ports.length]!;
      open = { connection: new Connection(port), port };
      this.all.push(open.connection);
    }
    const status = await open.connection.send(signedRequest(this.key, open.port, this.connectorId, code, version));
    this.idle.push(open);
    return status;
  }

  close(): void {
    for (const connection of this.all) connection.close();
  }
}

/** Busy, kernel and steal shares of the machine's CPUs since `since` (from /proc/stat), in percent. */
function machineCpu(since?: { ticks: number[] }): { ticks: number[]; busy: number; system: number; steal: number } {
  let ticks: number[] = [];
  try {
    ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return { ticks, busy: NaN, system: NaN, steal: NaN };
  }
  if (!since) return { ticks, busy: NaN, system: NaN, steal: NaN };
  const d = ticks.map((value, i) => value - (since.ticks[i] ?? 0));
  const total = d.reduce((a, b) => a + b, 0);
  const idle = (d[3] ?? 0) + (d[4] ?? 0);
  return {
    ticks,
    busy: (100 * (total - idle)) / total,
    system: (100 * ((d[2] ?? 0) + (d[5] ?? 0) + (d[6] ?? 0))) / total,
    steal: (100 * (d[7] ?? 0)) / total,
  };
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

async function newConnector(db: Kysely<Database>, box: SecretBox, id: string): Promise<string> {
  await saveConnector(db, {
    id,
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
  const { secret } = await issueWebhookSecret(db, box, { connectorId: id, graceSeconds: 0, actor: cliActor() });
  return secret;
}

async function main(): Promise<void> {
  const base = loadConfig();
  const config = await freshDatabase(
    base.SECRETS_KEY || base.SECRETS_KEYS ? base : { ...base, SECRETS_KEY: randomBytes(32).toString('base64') },
    'webhooks_bench',
  );
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 2 });
  const box = SecretBox.fromConfig(config)!;
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(ingestQueueName('79'), { connection: redis, prefix: config.QUEUE_PREFIX });
  const gatewayPorts: number[] = [];
  for (let i = 0; i < gateways; i++) gatewayPorts.push(await freePort());
  const writerPort = await freePort();
  const children = [
    ...gatewayPorts.map((port) => FleetProcess.start(config, 'gateway', port)),
    FleetProcess.start(config, 'writer', writerPort),
  ];
  const stop = () => Promise.all(children.map((child) => child.stop()));
  process.on('SIGINT', () => void stop());

  const rowsLike = async (prefix: string) =>
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers WHERE dossier_code LIKE ${`${prefix}%`}`.execute(db))
        .rows[0]!.n,
    );
  const backlog = async () => {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };
  try {
    await Promise.all(children.map((child) => child.ready()));
    console.log(
      `webhook benchmark: ${gateways} gateway process${gateways === 1 ? '' : 'es'} and a writer, each a process of its own, ${seconds} s per phase, on ${(await import('node:os')).cpus().length} cores with Redis and Postgres`,
    );

    const cpuSeconds = async (port: number) =>
      Number(
        /^process_cpu_seconds_total (\S+)$/m.exec(
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        )?.[1] ?? NaN,
      );

    // --- 1. sustained throughput ---------------------------------------------------------------------------
    const gatewaysCpu = async () => (await Promise.all(gatewayPorts.map(cpuSeconds))).reduce((a, b) => a + b, 0);
    const sustained = new Sender(gatewayPorts, 'bench-sustained', await newConnector(db, box, 'bench-sustained'));
    // Warm-up: connections, caches, JIT.
    await Promise.all(Array.from({ length: 200 }, (_, i) => sustained.send(`W-${i}`, 1)));
    let sequence = 0;
    let acknowledged = 0;
    let refused = 0;
    const pool = 20_000; // dossiers the updates go round: inserts first, then updates
    const cpuBefore = [await gatewaysCpu(), await cpuSeconds(writerPort)];
    const senderBefore = process.cpuUsage();
    const machineBefore = machineCpu();
    const startedAt = Date.now();
    const deadline = startedAt + seconds * 1000;
    const loop = async () => {
      while (Date.now() < deadline) {
        const n = ++sequence;
        const status = await sustained.send(`S-${n % pool}`, n);
        if (status === 202) acknowledged++;
        else refused++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const elapsed = (Date.now() - startedAt) / 1000;
    const senderCpu = process.cpuUsage(senderBefore);
    const machine = machineCpu(machineBefore);
    const behind = await backlog();
    const committedAtStop = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM dossier_events WHERE dossier_code LIKE 'S-%'`.execute(db);
    const drainStart = Date.now();
    await until(async () => (await backlog()) === 0, 'the writer caught up');
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const cpuAfter = [await gatewaysCpu(), await cpuSeconds(writerPort)];
    sustained.close();
    console.log(
      `sustained: ${(acknowledged / elapsed).toFixed(0)} deliveries/s acknowledged (202) with ${concurrency} concurrent senders for ${elapsed.toFixed(1)} s ` +
        `(${acknowledged} deliveries, ${refused} not 202); ${(Number(committedAtStop.rows[0]!.n) / elapsed).toFixed(0)} states/s committed meanwhile; ` +
        `${behind} batches queued when the load stopped, drained in ${drainSeconds.toFixed(1)} s`,
    );
    const perDelivery = (i: number) => (((cpuAfter[i]! - cpuBefore[i]!) / acknowledged) * 1e6).toFixed(0);
    console.log(
      `  CPU per delivery: gateway process${gateways === 1 ? '' : 'es (summed)'} ${perDelivery(0)} µs, writer process ${perDelivery(1)} µs, load generator ${((senderCpu.user + senderCpu.system) / acknowledged).toFixed(0)} µs; ` +
        `the machine's 2 cores meanwhile: ${machine.busy.toFixed(0)}% busy, of which ${machine.system.toFixed(0)}% in the kernel, ${machine.steal.toFixed(1)}% stolen by the hypervisor`,
    );

    // --- 2. latency at a fixed rate ------------------------------------------------------------------------
    /** The writer's histogram of pushed records (receipt → commit) and its batch commits, summed. */
    const writerFigures = async () => {
      const text = await (await fetch(`http://127.0.0.1:${writerPort}/metrics`)).text();
      const bucket = (le: string) =>
        Number(
          new RegExp(
            `dossier_sync_webhook_latency_seconds_bucket\\{le="${le.replace('+', '\\+')}",province="79"\\} (\\d+)`,
          ).exec(text)?.[1] ?? NaN,
        );
      return {
        le: Object.fromEntries(['0.05', '0.1', '0.25', '1', '+Inf'].map((le) => [le, bucket(le)])),
        writes: Number(/^dossier_sync_write_batch_duration_seconds_count (\d+)$/m.exec(text)?.[1] ?? NaN),
        writeSeconds: Number(/^dossier_sync_write_batch_duration_seconds_sum (\S+)$/m.exec(text)?.[1] ?? NaN),
      };
    };
    const paced = new Sender(gatewayPorts, 'bench-latency', await newConnector(db, box, 'bench-latency'));
    await Promise.all(Array.from({ length: 200 }, (_, i) => paced.send(`V-${i}`, 1)));
    await until(async () => (await rowsLike('V-')) >= 200, 'the warm-up committed');
    const figuresBefore = await writerFigures();
    const sentAt = new Map<string, number>();
    const ackLatency: number[] = [];
    let latencyRefused = 0;
    const total = rate * seconds;
    const begin = performance.now();
    const inFlight: Promise<void>[] = [];
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate));
      for (; sent < due; sent++) {
        const code = `L-${sent}`;
        const at = Date.now();
        sentAt.set(code, at);
        inFlight.push(
          paced.send(code, 1).then((status) => {
            if (status === 202) ackLatency.push(Date.now() - at);
            else latencyRefused++;
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(inFlight);
    const achieved = total / ((performance.now() - begin) / 1000);
    await until(async () => (await rowsLike('L-')) >= ackLatency.length, 'every paced delivery committed');
    paced.close();
    // synced_at is now() of the writing transaction: its start, a few ms before its commit (see below).
    const { rows } = await sql<{ dossier_code: string; synced: string }>`
      SELECT dossier_code, (extract(epoch FROM synced_at) * 1000)::float8 AS synced FROM dossiers WHERE dossier_code LIKE 'L-%'`.execute(
      db,
    );
    const toRow = rows.map((row) => Number(row.synced) - sentAt.get(row.dossier_code)!).sort((a, b) => a - b);
    ackLatency.sort((a, b) => a - b);
    const figuresAfter = await writerFigures();
    const share = (le: string) =>
      (100 * (figuresAfter.le[le]! - figuresBefore.le[le]!)) / (figuresAfter.le['+Inf']! - figuresBefore.le['+Inf']!);
    const meanCommitMs =
      (1000 * (figuresAfter.writeSeconds - figuresBefore.writeSeconds)) / (figuresAfter.writes - figuresBefore.writes);
    console.log(
      `latency at ${achieved.toFixed(0)} deliveries/s for ${seconds} s (${total} single-update deliveries, ${latencyRefused} not 202): ` +
        `request → committed row p50 ${ms(quantile(toRow, 0.5))}, p99 ${ms(quantile(toRow, 0.99))}, max ${ms(toRow.at(-1)!)}; ` +
        `request → 202 p50 ${ms(quantile(ackLatency, 0.5))}, p99 ${ms(quantile(ackLatency, 0.99))}`,
    );
    console.log(
      `  the writer's own histogram over this phase (receipt by the gateway → commit): ${share('0.05').toFixed(1)}% ≤ 50 ms, ${share('0.1').toFixed(1)}% ≤ 100 ms, ` +
        `${share('0.25').toFixed(2)}% ≤ 250 ms, ${share('1').toFixed(2)}% ≤ 1 s; ${figuresAfter.writes - figuresBefore.writes} batches, mean commit ${meanCommitMs.toFixed(1)} ms`,
    );
  } finally {
    await stop();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
    await db.destroy();
    // Nothing of the run is kept: its database, and its ledger's and queues' keys.
    await dropDatabase(config.DATABASE_URL);
    await deleteRedisKeys(config.REDIS_URL, config.QUEUE_PREFIX);
  }
}

await main();

// The idempotency ledger's cost per delivery, from Redis's own accounting:
// `tsx scripts/tools/bench-delivery-ledger.ts [--deliveries 100000] [--concurrency 256] [--window 43200]`.
// Two phases, each into a fresh key prefix of a redis-server of its own (of the Redis at REDIS_URL with --shared):
//   1. the form of today: N deliveries through the real DeliveryLedger (`once`, claim then commit), with the previous
//      slice's count set to N so that the slice has the buckets of a steady load of that size.
//   2. the previous form: one key per delivery, `<prefix>:{webhooks}:delivery:<connector>:<sha256>` holding
//      `{bodyHash, answer}` with a TTL — written as the previous gateway's commit wrote it;
// For each: INFO memory used_memory before and after (divided by N), the sum of MEMORY USAGE of its keys (divided by
// N), the encodings of its hashes; then what the ledger holds at 1,000 and 5,000 deliveries/s for the window.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/env.js';
import { connectRedis } from '../../workers/redis.js';
import { bodyHashOf, DeliveryLedger } from '../../workers/webhooks/delivery-ledger.js';
import type { DeliveryAnswer } from '../../workers/webhooks/delivery-outcome.js';
import { deleteRedisKeys, freePort } from './bench-support.js';

const config = loadConfig();
const { values: args } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '256' },
    window: { type: 'string', default: String(config.WEBHOOK_IDEMPOTENCY_TTL_SECONDS) },
    // Measures on the Redis at REDIS_URL instead of a redis-server of its own (whose used_memory nothing else moves).
    shared: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'tsx scripts/tools/bench-delivery-ledger.ts [--deliveries N (100000)] [--concurrency N (256)] [--window seconds] [--shared]\n',
  );
  process.exit(0);
}
const deliveries = Number(args.deliveries);
const concurrency = Number(args.concurrency);
const windowSeconds = Number(args.window);
const connector = 'bench-ledger';
const previousTtlSeconds = 86_400;

// A redis-server of its own, with Redis's default settings, on a spare port: INFO used_memory is then this run's alone.
const own = args.shared
  ? null
  : spawn(
      'redis-server',
      ['--port', String(await freePort()), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
const redisUrl = own ? `redis://127.0.0.1:${own.spawnargs[2]}` : config.REDIS_URL;
process.on('exit', () => own?.kill());
const redis = connectRedis(redisUrl, { enableAutoPipelining: true });
// Refused while its own redis-server starts: the pings below wait for it.
redis.on('error', () => {});
for (let attempt = 0; ; attempt++) {
  try {
    await redis.ping();
    break;
  } catch (error) {
    if (attempt > 50) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const log = (line: string) => process.stderr.write(`${line}\n`);

async function usedMemory(): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

/** Every key under a prefix: MEMORY USAGE summed (SAMPLES 0: every field counted) and encodings counted. */
async function keysUnder(prefix: string): Promise<{ keys: number; bytes: number; encodings: Record<string, number> }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  const encodings: Record<string, number> = {};
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    await Promise.all(
      found.map(async (key) => {
        const [usage, encoding] = await Promise.all([
          redis.memory('USAGE', key, 'SAMPLES', 0),
          redis.object('ENCODING', key) as Promise<string>,
        ]);
        keys++;
        bytes += Number(usage ?? 0);
        encodings[encoding] = (encodings[encoding] ?? 0) + 1;
      }),
    );
  } while (cursor !== '0');
  return { keys, bytes, encodings };
}

/** Runs `one(i)` for i in 0..n-1, `concurrency` at a time. */
async function run(n: number, one: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return performance.now() - started;
}

const answerOf = (webhookId: string): DeliveryAnswer => ({
  kind: 'accepted',
  webhookId,
  accepted: 1,
  rejected: 0,
  problems: [],
});

interface Figures {
  form: string;
  usedPerDelivery: number;
  usagePerDelivery: number;
  keys: number;
  encodings: Record<string, number>;
  ms: number;
}

async function measure(form: string, prefix: string, write: (i: number) => Promise<void>): Promise<Figures> {
  await deleteRedisKeys(redisUrl, prefix);
  // Redis is shared: let what another phase freed settle first.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const before = await usedMemory();
  const ms = await run(deliveries, write);
  const after = await usedMemory();
  const { keys, bytes, encodings } = await keysUnder(prefix);
  await deleteRedisKeys(redisUrl, prefix);
  const figures = {
    form,
    usedPerDelivery: (after - before) / deliveries,
    usagePerDelivery: bytes / deliveries,
    keys,
    encodings,
    ms,
  };
  log(`${form}: ${JSON.stringify(figures)}`);
  return figures;
}

const run1 = `bench-ledger-${process.pid}`;
const bodyHash = (i: number) => bodyHashOf(Buffer.from(`{"MaHoSo":"D${i}","PhienBan":1}`));

log(
  `${deliveries} deliveries, ${concurrency} at a time, into Redis at ${redisUrl}${own ? ' (its own redis-server, default settings)' : ''}`,
);
const ledger = new DeliveryLedger(redis, {
  prefix: `${run1}-compact`,
  ttlSeconds: windowSeconds,
  claimTtlMs: 30_000,
  waitMs: 1_000,
  readPreviousForm: false,
});
// The previous slice had as many deliveries as this one will: its buckets are those of a steady load.
const { slice } = ledger.sliceAt(Date.now());
const countsOfPrevious = `${run1}-compact:{webhooks:${connector}}:ledger:${slice - 1}`;
const compact = await measure('compact: slices of small hashes', `${run1}-compact`, async (i) => {
  if (i === 0) await redis.hset(countsOfPrevious, 'n', deliveries);
  const webhookId = `msg_${randomUUID()}`;
  await ledger.once(connector, webhookId, bodyHash(i), async () => ({ answer: answerOf(webhookId), record: true }));
});

// Only its key names (keyOf): the previous form's keys are written here as the previous gateway wrote them.
const previousLedger = new DeliveryLedger(redis, {
  prefix: `${run1}-previous`,
  ttlSeconds: previousTtlSeconds,
  claimTtlMs: 30_000,
  waitMs: 1_000,
});
const previous = await measure('previous: one key per delivery', `${run1}-previous`, async (i) => {
  const webhookId = `msg_${randomUUID()}`;
  const key = previousLedger.keyOf(connector, webhookId);
  // As the previous gateway did it: a claim (SET NX PX), replaced by the answer with the TTL.
  await redis.set(key, `pending:${bodyHash(i)}:bench.${i}`, 'PX', 30_000, 'NX');
  await redis.set(
    key,
    JSON.stringify({ bodyHash: bodyHash(i), answer: answerOf(webhookId) }),
    'EX',
    previousTtlSeconds,
  );
});

const listpack = (await redis.config('GET', 'hash-max-listpack-*')) as string[];
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
const row = (figures: Figures, retentionSeconds: number, rate: number) =>
  gb(figures.usedPerDelivery * rate * retentionSeconds);
process.stdout.write(
  [
    `# idempotency ledger, ${deliveries} deliveries (${new Date().toISOString()}; Redis ${listpack.join(' ')})`,
    '',
    '| form | used_memory Δ / delivery | MEMORY USAGE / delivery | keys | encodings | kept | at 1,000/s | at 5,000/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${previous.form} | ${previous.usedPerDelivery.toFixed(1)} B | ${previous.usagePerDelivery.toFixed(1)} B | ${previous.keys} | ${JSON.stringify(previous.encodings)} | 24 h | ${row(previous, previousTtlSeconds, 1_000)} | ${row(previous, previousTtlSeconds, 5_000)} |`,
    `| ${compact.form} | ${compact.usedPerDelivery.toFixed(1)} B | ${compact.usagePerDelivery.toFixed(1)} B | ${compact.keys} | ${JSON.stringify(compact.encodings)} | ${windowSeconds / 3600}–${(1.25 * windowSeconds) / 3600} h | ${row(compact, 1.25 * windowSeconds, 1_000)} | ${row(compact, 1.25 * windowSeconds, 5_000)} |`,
    '',
    `(at n/s: used_memory Δ per delivery — what Redis allocated, the keyspace's own tables included — × n × the longest an entry is kept — 24 h before; 1.25 × the window of ${windowSeconds} s now, the peak when 4 full slices and a fifth are alive)`,
    '',
  ].join('\n'),
);
redis.disconnect();
own?.kill();

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectRedis, type RedisConnection } from '../../../workers/redis.js';
import { bodyHashOf, DeliveryLedger } from '../../../workers/webhooks/delivery-ledger.js';
import { refusal, type DeliveryAnswer } from '../../../workers/webhooks/delivery-outcome.js';
import { deleteKeys } from '../../support/test-environment.js';

// Issue #14: the idempotency ledger's cost is bounded. Each delivery is a field of a small hash (a bucket of a
// connector's time slice) that stays listpack-encoded — tens of bytes, not a key of its own — and a slice is
// forgotten whole: after the window (at most 1.25 × WEBHOOK_IDEMPOTENCY_TTL_SECONDS), the ledger holds nothing of a
// connector. Counted by Redis itself (OBJECT ENCODING, MEMORY USAGE, TTL), not timed.

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-ledger-bound-${process.pid}`;
let redis: RedisConnection;
beforeAll(() => {
  redis = connectRedis(redisUrl, { enableAutoPipelining: true });
});
afterAll(async () => {
  redis?.disconnect();
  await deleteKeys(redisUrl, prefix);
});

const ledgerOf = (ttlSeconds: number) =>
  new DeliveryLedger(redis, { prefix, ttlSeconds, claimTtlMs: 30_000, waitMs: 1_000, readPreviousForm: false });

const accepted = (webhookId: string): DeliveryAnswer => ({
  kind: 'accepted',
  webhookId,
  accepted: 1,
  rejected: 0,
  problems: [],
});

/** Every key of a connector's ledger. */
async function keysOf(connector: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:{webhooks:${connector}}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

/** Records `n` deliveries, 50 at a time; every `rejectEvery`-th one with an answer too long for an entry. */
async function record(ledger: DeliveryLedger, connector: string, n: number, rejectEvery = 0): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `msg_${randomUUID()}`);
  for (let at = 0; at < n; at += 50) {
    await Promise.all(
      ids.slice(at, at + 50).map((id, i) =>
        ledger.once(connector, id, bodyHashOf(Buffer.from(id)), async () => ({
          answer:
            rejectEvery > 0 && (at + i) % rejectEvery === 0
              ? refusal('all_records_invalid', 'the update is invalid', { problems: [`$ (dossier ${id}): bad_date`] })
              : accepted(id),
          record: true,
        })),
      ),
    );
  }
  return ids;
}

it('keeps a slice of 1,000 deliveries as listpack hashes of at most 128 entries, tens of bytes a delivery', async () => {
  const connector = 'bound-compact';
  await record(ledgerOf(43_200), connector, 1_000);
  const keys = (await keysOf(connector)).filter((key) => /:ledger:\d+:\d+$/.test(key));
  const figures = await Promise.all(
    keys.map(async (key) => ({
      encoding: await redis.object('ENCODING', key),
      entries: await redis.hlen(key),
      bytes: Number(await redis.memory('USAGE', key, 'SAMPLES', 0)),
    })),
  );
  expect(figures.reduce((sum, { entries }) => sum + entries, 0)).toBe(1_000);
  // Under Redis's default hash-max-listpack-entries (128), whatever this server is configured with.
  expect(new Set(figures.map(({ encoding }) => encoding))).toEqual(new Set(['listpack']));
  expect(Math.max(...figures.map(({ entries }) => entries))).toBeLessThanOrEqual(128);
  // A key of its own per delivery cost ≈ 340 B (MEMORY USAGE); a field of a listpack, tens. At 1,000 deliveries a
  // slice has its fewest buckets (256), so their own overhead is still counted in.
  const perDelivery = figures.reduce((sum, { bytes }) => sum + bytes, 0) / 1_000;
  expect(perDelivery).toBeLessThan(80);
  // Claims are given up when the answer is recorded: nothing else is left per delivery.
  expect((await keysOf(connector)).filter((key) => key.includes(':claim:'))).toEqual([]);
});

it('gives a slice as many buckets as its previous slice needed for about 64 deliveries each', async () => {
  const connector = 'bound-buckets';
  const ledger = ledgerOf(43_200);
  const { slice } = ledger.sliceAt(Date.now());
  // The previous slice took 100,000 deliveries: this one gets 2^11 buckets (100,000 ÷ 2^11 ≈ 49 a bucket).
  await redis.hset(`${prefix}:{webhooks:${connector}}:ledger:${slice - 1}`, 'n', 100_000);
  await record(ledger, connector, 500);
  expect(await redis.hget(`${prefix}:{webhooks:${connector}}:ledger:${slice}`, 'b')).toBe('11');
});

it('forgets every delivery of a connector with its slices: after the window, its ledger holds nothing', async () => {
  const connector = 'bound-expiry';
  // A window of 4 s: slices of 1 s, each forgotten 5 slices after it began.
  const ledger = ledgerOf(4);
  const ids = await record(ledger, connector, 300, 10);
  const keys = await keysOf(connector);
  // Slices' buckets, their counts, and the long answers (every tenth delivery had rejected updates).
  expect(keys.some((key) => key.includes(':answer:'))).toBe(true);
  for (const key of keys) {
    const ttl = await redis.pttl(key);
    expect(ttl, key).toBeGreaterThan(0);
    expect(ttl, key).toBeLessThanOrEqual(5_000);
  }
  // Within the window a retry is answered from the ledger, a long answer too.
  const retry = (id: string) =>
    ledger.once(connector, id, bodyHashOf(Buffer.from(id)), async () => ({ answer: accepted(id), record: false }));
  expect(await retry(ids[1]!)).toMatchObject({ kind: 'answered', replayed: true, answer: accepted(ids[1]!) });
  expect(await retry(ids[0]!)).toMatchObject({
    kind: 'answered',
    replayed: true,
    answer: { kind: 'refused', code: 'all_records_invalid' },
  });

  const deadline = Date.now() + 15_000;
  while ((await keysOf(connector)).length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 250));
  expect(await keysOf(connector)).toEqual([]);
  // Forgotten: a retry now is processed afresh (harmless: the writer's version guard).
  expect(await retry(ids[1]!)).toMatchObject({ kind: 'answered', replayed: false });
});

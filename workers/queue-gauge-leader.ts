import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './redis.js';

/** Takes the lease when nobody holds it, or renews it when this process does; 1 when held. */
const takeOrRenew = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

/** Options of a QueueGaugeLeader. */
export interface QueueGaugeLeaderOptions {
  /** The fleet's queue prefix: one lease per fleet sharing a Redis. */
  prefix: string;
  /**
   * How long the lease outlives its last renewal, in ms (default 30,000): two scrapes at Prometheus's usual 15 s, so
   * a holder that stops is replaced within 30 s and one that is scraped keeps it.
   */
  ttlMs?: number;
}

/**
 * A short Redis lease (`SET NX PX` under the queue prefix, renewed at each scrape) deciding which one process of
 * the fleet exports the queue gauges, so each queue's depth is exported once however many processes there are.
 * Renewed by scrapes, not a timer: a process nobody scrapes lets it go to one that is.
 */
export class QueueGaugeLeader {
  private readonly id = randomUUID();
  private readonly key: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisConnection,
    options: QueueGaugeLeaderOptions,
  ) {
    this.key = `${options.prefix}:metrics:queue-gauge-leader`;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  /** Whether this process holds the lease now, taking or renewing it. */
  async holds(): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    return (await this.redis.eval(takeOrRenew, 1, this.key, this.id, String(this.ttlMs))) === 1;
  }

  /** Gives the lease up (at shutdown), so another process takes it at its next scrape. */
  async release(): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
      1,
      this.key,
      this.id,
    );
  }
}

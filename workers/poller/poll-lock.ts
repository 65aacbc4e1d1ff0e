import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const releaseScript = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const renewScript = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** A held lock; renewed in the background until released. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Makes sure one connector is polled by one poller at a time, across processes and machines. BullMQ's job
 * schedulers add the next job when the previous one starts, so a slow poll would otherwise overlap the next.
 * The lock is only an economy: the cursor guard and the version guard keep an overlap harmless (and so the
 * loss of the lock with Redis's data).
 */
export class PollLock {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    /** Lifetime of a lock that stops being renewed (a killed poller): its connector waits this long at most. Default 6 s. */
    private readonly ttlMs = 6_000,
  ) {}

  /** Takes the lock of a connector, or returns null when another poller holds it. */
  async acquire(connectorId: string): Promise<HeldLock | null> {
    const key = `${this.keyPrefix}:{poll}:lock:${connectorId}`;
    const token = randomUUID();
    const taken = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (taken !== 'OK') return null;
    const renewal = setInterval(() => {
      this.redis.eval(renewScript, 1, key, token, this.ttlMs).catch(() => {});
    }, this.ttlMs / 3);
    renewal.unref();
    return {
      release: async () => {
        clearInterval(renewal);
        await this.redis.eval(releaseScript, 1, key, token);
      },
    };
  }
}

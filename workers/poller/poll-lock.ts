import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import { redisScripts } from '../redis-scripts/redis-scripts.js';

const renewalFailed: ErrorSource = {
  component: 'poller',
  kind: 'lock_renewal',
  message:
    'could not renew a poll lock; once it lapses another poller may poll the connector at the same time (harmless: the cursor and version guards), until Redis answers again',
};
const lockLost: ErrorSource = {
  component: 'poller',
  kind: 'lock_lost',
  level: 'warn',
  message:
    'a poll lock lapsed before the run ended (Redis lost it, or this process stalled); another poller may poll the connector at the same time (harmless: the cursor and version guards)',
};

/** A held lock; renewed in the background until released. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Makes sure one connector is polled by one poller at a time, across processes and machines. BullMQ's job
 * schedulers add the next job when the previous one starts, so a slow poll would otherwise overlap the next.
 * The lock is only an economy: the cursor guard and the version guard keep an overlap harmless (and so the
 * loss of the lock with Redis's data). A renewal that fails, does not answer before the next one is due, or
 * finds the lock gone is reported (`errors`), never silent.
 */
export class PollLock {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keyPrefix: string,
    /** Where failed renewals and lost locks are told. */
    private readonly errors: BackgroundErrors,
    /**
     * Lifetime of a lock that stops being renewed (a killed poller): its connector waits this long at most. Default 6
     * s.
     */
    private readonly ttlMs = 6_000,
  ) {}

  /** Takes the lock of a connector, or returns null when another poller holds it. */
  async acquire(connectorId: string): Promise<HeldLock | null> {
    const key = `${this.keyPrefix}:{poll}:lock:${connectorId}`;
    const token = randomUUID();
    const taken = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (taken !== 'OK') return null;
    const scripts = redisScripts(this.redis);
    let renewing = false;
    const renewal = setInterval(() => {
      if (renewing) {
        // The previous renewal has not answered (Redis down: the command waits for the reconnection). Only one
        // waits at a time; each missed turn is a failure to renew.
        this.errors.report(renewalFailed, new Error(`no answer from Redis within ${Math.round(this.ttlMs / 3)} ms`), {
          connector: connectorId,
        });
        return;
      }
      renewing = true;
      scripts
        .renewIfHeld(key, token, this.ttlMs)
        .then((renewed) => {
          if (renewed === 0) {
            clearInterval(renewal);
            this.errors.report(lockLost, new Error('the lock was no longer held by this run'), {
              connector: connectorId,
            });
          }
        })
        .catch((error: unknown) => this.errors.report(renewalFailed, error, { connector: connectorId }))
        .finally(() => (renewing = false));
    }, this.ttlMs / 3);
    renewal.unref();
    return {
      release: async () => {
        clearInterval(renewal);
        await scripts.releaseIfHeld(key, token);
      },
    };
  }
}

import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** The answer a delivery got, kept so that a retry of it (same webhook-id) gets the same one. */
export interface RecordedAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Redis did not answer the ledger: the delivery cannot be checked for a repeat, so it is not taken. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

/** What claiming a delivery found. */
export type Claim =
  /** This request holds the delivery: process it, then `commit` or `release`. */
  | { kind: 'claimed'; token: string }
  /** The delivery was already answered: answer the same. */
  | { kind: 'answered'; answer: RecordedAnswer }
  /** Another request (in another gateway) is processing it right now and did not finish in time. */
  | { kind: 'in_progress' };

/** Options of the ledger. */
export interface DeliveryLedgerOptions {
  /** Redis key prefix (QUEUE_PREFIX). */
  prefix: string;
  /** How long an answered delivery is remembered. */
  ttlSeconds: number;
  /** How long a claim lives if its holder dies before answering. */
  claimTtlMs: number;
  /** How long a duplicate waits for the request holding its delivery to answer. */
  waitMs: number;
  /** Told when an answer could not be recorded or a claim not released (the delivery itself is unaffected). */
  onLedgerError?: (error: unknown) => void;
}

const pendingPrefix = 'pending:';
/** Claims of this process are told apart by a random process part and a counter (no random bytes per delivery). */
const processToken = randomBytes(9).toString('base64url');
let claims = 0;

// Deletes the claim only if this request still holds it (another one may have taken an expired claim since).
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The idempotency ledger of webhook deliveries, in Redis: one key per (connector, webhook-id) under the fleet's
 * prefix, with a Redis Cluster hash tag. A delivery is claimed with SET NX before its batch is handed to the
 * queue — so two concurrent copies cannot both enqueue — and its answer replaces the claim (with a TTL) only
 * once the batch is durable. Copies arriving meanwhile in this process share the first one's outcome; copies in
 * another gateway wait for the recorded answer.
 *
 * If Redis loses the ledger, a retried delivery is applied again: harmless, since the writer's version guard
 * makes a repeat a no-op that adds no history row.
 */
export class DeliveryLedger {
  private readonly local = new Map<string, Promise<RecordedAnswer>>();

  constructor(
    private readonly redis: Redis,
    private readonly options: DeliveryLedgerOptions,
  ) {}

  /** The Redis key of a delivery: the webhook-id is hashed, so any text a sender uses makes a bounded key. */
  keyOf(connectorId: string, webhookId: string): string {
    const id = createHash('sha256').update(webhookId, 'utf8').digest('base64url');
    return `${this.options.prefix}:{webhooks}:delivery:${connectorId}:${id}`;
  }

  /**
   * Runs `work` for a delivery at most once at a time across the fleet, and records its answer when `work`
   * says so. A copy already answered gets the recorded answer (`replayed` true) without running `work`.
   */
  async once(key: string, work: () => Promise<{ answer: RecordedAnswer; record: boolean }>): Promise<{ answer: RecordedAnswer; replayed: boolean } | { inProgress: true }> {
    const running = this.local.get(key);
    if (running) {
      // A copy of a delivery this process is handling right now: the same outcome, once it is known.
      try {
        return { answer: await running, replayed: true };
      } catch {
        // The first copy failed (its answer is an error, not recorded): this copy tries for itself.
      }
    }
    let claim: Claim;
    try {
      claim = await this.claim(key);
    } catch (error) {
      throw new LedgerUnavailableError(`the idempotency ledger (Redis) did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (claim.kind === 'answered') return { answer: claim.answer, replayed: true };
    if (claim.kind === 'in_progress') return { inProgress: true };

    let settle!: { resolve: (answer: RecordedAnswer) => void; reject: (error: unknown) => void };
    const shared = new Promise<RecordedAnswer>((resolve, reject) => (settle = { resolve, reject }));
    shared.catch(() => {});
    this.local.set(key, shared);
    try {
      const { answer, record } = await work();
      if (record) {
        settle.resolve(answer);
        // The delivery is durable whatever happens to its record here: if Redis cannot keep the answer, a
        // retry is applied again, which the version guard makes harmless.
        await this.commit(key, answer).catch((error: unknown) => this.options.onLedgerError?.(error));
      } else {
        settle.reject(new Error('not recorded'));
        await this.release(key, claim.token).catch((error: unknown) => this.options.onLedgerError?.(error));
      }
      return { answer, replayed: false };
    } catch (error) {
      settle.reject(error);
      await this.release(key, claim.token).catch(() => {});
      throw error;
    } finally {
      this.local.delete(key);
    }
  }

  /** Claims a delivery, or finds its answer; waits (up to `waitMs`) while another gateway holds it. */
  private async claim(key: string): Promise<Claim> {
    const token = `${pendingPrefix}${processToken}.${++claims}`;
    const deadline = Date.now() + this.options.waitMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      if (Date.now() > deadline) return { kind: 'in_progress' };
      if ((await this.redis.set(key, token, 'PX', this.options.claimTtlMs, 'NX')) === 'OK') return { kind: 'claimed', token };
      const value = await this.redis.get(key);
      if (value !== null && !value.startsWith(pendingPrefix)) {
        try {
          return { kind: 'answered', answer: JSON.parse(value) as RecordedAnswer };
        } catch {
          // Not ours to read: claim it afresh.
          await this.redis.del(key);
          continue;
        }
      }
      if (value === null) continue; // released or expired since: claim again
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Records a delivery's answer in place of its claim. */
  private async commit(key: string, answer: RecordedAnswer): Promise<void> {
    await this.redis.set(key, JSON.stringify(answer), 'EX', this.options.ttlSeconds);
  }

  /** Gives a claim up (the delivery was refused, or failed): a retry is processed afresh. */
  private async release(key: string, token: string): Promise<void> {
    await this.redis.eval(releaseScript, 1, key, token);
  }
}

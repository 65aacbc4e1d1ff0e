import { createHash, randomBytes } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import { answerOfRecordedBody, type DeliveryAnswer } from './delivery-outcome.js';
import { redisScripts } from '../redis-scripts/redis-scripts.js';

/** Redis did not answer the ledger: the delivery cannot be checked for a repeat, so it is not taken. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

/** What claiming a delivery found. */
export type Claim =
  /** This request holds the delivery: process it, then `commit` or `release`. */
  | { kind: 'claimed'; token: string }
  /** The delivery was already answered: answer the same. */
  | { kind: 'answered'; answer: DeliveryAnswer }
  /** Another request (in another gateway) is processing it right now and did not finish in time. */
  | { kind: 'in_progress' }
  /** The webhook-id is held, or was answered, for a message with another body. */
  | { kind: 'reused' };

/** What `once` did with a delivery. */
export type Outcome =
  /** Answered: by `work` (replayed false), or with the answer recorded for the same id and body (replayed true). */
  | { kind: 'answered'; answer: DeliveryAnswer; replayed: boolean }
  /** A copy with the same id and body is being processed elsewhere and did not finish within `waitMs`. */
  | { kind: 'in_progress' }
  /** The id belongs to another message (another body): nothing was run. */
  | { kind: 'reused' };

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
  /**
   * Told when an answer could not be recorded (`commit`) or a claim not given up (`release`); the delivery itself is
   * unaffected. Default: nobody.
   */
  onLedgerError?: (error: unknown, step: 'commit' | 'release') => void;
}

const pendingPrefix = 'pending:';

/**
 * The value kept for an answered delivery: the hash of the body it answered, and the answer. A gateway of the
 * previous version kept the HTTP `body` it sent instead of the answer: read as the answer it was.
 */
interface LedgerRecord {
  bodyHash?: string;
  answer?: DeliveryAnswer;
  body?: Record<string, unknown>;
}

/** The SHA-256 of a delivery's raw body bytes (what was signed), in base64url: 43 characters. */
export function bodyHashOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

/**
 * The body hash a claim was made for: `pending:<hash>:<token>`. A claim without one (`pending:<token>`, from a
 * gateway of the previous version during a rolling upgrade) matches any body, as it did then.
 */
function claimedHash(value: string): string | null {
  const rest = value.slice(pendingPrefix.length);
  const colon = rest.indexOf(':');
  return colon < 0 ? null : rest.slice(0, colon);
}

/** A recorded answer and the body hash it is for; null when the value is not a record of ours. */
function readRecord(value: string): { bodyHash?: string; answer: DeliveryAnswer } | null {
  let recorded: LedgerRecord;
  try {
    recorded = JSON.parse(value) as LedgerRecord;
  } catch {
    return null;
  }
  if (typeof recorded !== 'object' || recorded === null) return null;
  const answer =
    recorded.answer ??
    (typeof recorded.body === 'object' && recorded.body !== null ? answerOfRecordedBody(recorded.body) : null);
  return answer ? { bodyHash: recorded.bodyHash, answer } : null;
}

/** Claims of this process are told apart by a random process part and a counter (no random bytes per delivery). */
const processToken = randomBytes(9).toString('base64url');
let claims = 0;

/**
 * The idempotency ledger of webhook deliveries, in Redis: one key per (connector, webhook-id) under the fleet's
 * prefix, with a Redis Cluster hash tag. A delivery is claimed with SET NX before its batch is handed to the
 * queue — so two concurrent copies cannot both enqueue — and its answer replaces the claim (with a TTL) only
 * once the batch is durable. Copies arriving meanwhile in this process share the first one's outcome; copies in
 * another gateway wait for the recorded answer.
 *
 * The claim and the answer keep the hash of the raw body they are for (never the body): a copy is only a copy
 * when its bytes are the same. The same id with another body is another message under a reused id — `reused`,
 * at once, whether the first one is answered or still in progress — so a sender that derives ids from
 * something other than the message (the dossier code) hears so instead of losing its later updates.
 *
 * If Redis loses the ledger, a retried delivery is applied again: harmless, since the writer's version guard
 * makes a repeat a no-op that adds no history row.
 */
export class DeliveryLedger {
  private readonly local = new Map<string, { bodyHash: string; answer: Promise<DeliveryAnswer> }>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: DeliveryLedgerOptions,
  ) {}

  /** The Redis key of a delivery: the webhook-id is hashed, so any text a sender uses makes a bounded key. */
  keyOf(connectorId: string, webhookId: string): string {
    const id = createHash('sha256').update(webhookId, 'utf8').digest('base64url');
    return `${this.options.prefix}:{webhooks}:delivery:${connectorId}:${id}`;
  }

  /**
   * Runs `work` for a delivery (the raw body hashed by `bodyHashOf`) at most once at a time across the fleet,
   * and records its answer when `work` says so. A copy with the same body already answered gets the recorded
   * answer (`replayed` true) without running `work`; one with another body is `reused`.
   */
  async once(
    key: string,
    bodyHash: string,
    work: () => Promise<{ answer: DeliveryAnswer; record: boolean }>,
  ): Promise<Outcome> {
    const running = this.local.get(key);
    if (running) {
      if (running.bodyHash !== bodyHash) return { kind: 'reused' };
      // A copy of a delivery this process is handling right now: the same outcome, once it is known.
      try {
        return { kind: 'answered', answer: await running.answer, replayed: true };
      } catch {
        // The first copy failed (its answer is an error, not recorded): this copy tries for itself.
      }
    }
    let claim: Claim;
    try {
      claim = await this.claim(key, bodyHash);
    } catch (error) {
      throw new LedgerUnavailableError(
        `the idempotency ledger (Redis) did not answer: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (claim.kind === 'answered') return { kind: 'answered', answer: claim.answer, replayed: true };
    if (claim.kind !== 'claimed') return { kind: claim.kind };

    let settle!: { resolve: (answer: DeliveryAnswer) => void; reject: (error: unknown) => void };
    const shared = new Promise<DeliveryAnswer>((resolve, reject) => (settle = { resolve, reject }));
    // Awaited only by copies arriving meanwhile; with none, its rejection must not be an unhandled one.
    shared.catch(() => {});
    this.local.set(key, { bodyHash, answer: shared });
    try {
      const { answer, record } = await work();
      if (record) {
        settle.resolve(answer);
        // The delivery is durable whatever happens to its record here: if Redis cannot keep the answer, a
        // retry is applied again, which the version guard makes harmless.
        await this.commit(key, bodyHash, answer).catch((error: unknown) =>
          this.options.onLedgerError?.(error, 'commit'),
        );
      } else {
        settle.reject(new Error('not recorded'));
        await this.release(key, claim.token).catch((error: unknown) => this.options.onLedgerError?.(error, 'release'));
      }
      return { kind: 'answered', answer, replayed: false };
    } catch (error) {
      settle.reject(error);
      // The claim lapses after claimTtlMs if it cannot be given up now: a retry meanwhile is answered 409 in progress.
      await this.release(key, claim.token).catch((failure: unknown) =>
        this.options.onLedgerError?.(failure, 'release'),
      );
      throw error;
    } finally {
      this.local.delete(key);
    }
  }

  /**
   * Claims a delivery, or finds its answer; waits (up to `waitMs`) while another gateway holds it for the same body.
   */
  private async claim(key: string, bodyHash: string): Promise<Claim> {
    const token = `${pendingPrefix}${bodyHash}:${processToken}.${++claims}`;
    const deadline = Date.now() + this.options.waitMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      if (Date.now() > deadline) return { kind: 'in_progress' };
      if ((await this.redis.set(key, token, 'PX', this.options.claimTtlMs, 'NX')) === 'OK')
        return { kind: 'claimed', token };
      const value = await this.redis.get(key);
      if (value === null) continue; // released or expired since: claim again
      if (value.startsWith(pendingPrefix)) {
        const held = claimedHash(value);
        if (held !== null && held !== bodyHash) return { kind: 'reused' };
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      const recorded = readRecord(value);
      if (!recorded) {
        // Not ours to read: claim it afresh.
        await this.redis.del(key);
        continue;
      }
      // A record without a hash was written by a gateway of an earlier version: it answers any body, as then.
      if (recorded.bodyHash !== undefined && recorded.bodyHash !== bodyHash) return { kind: 'reused' };
      return { kind: 'answered', answer: recorded.answer };
    }
  }

  /** Records a delivery's answer, and the hash of the body it answers, in place of its claim. */
  private async commit(key: string, bodyHash: string, answer: DeliveryAnswer): Promise<void> {
    const recorded: LedgerRecord = { bodyHash, answer };
    await this.redis.set(key, JSON.stringify(recorded), 'EX', this.options.ttlSeconds);
  }

  /** Gives a claim up (the delivery was refused, or failed): a retry is processed afresh. */
  private async release(key: string, token: string): Promise<void> {
    // Only if this request still holds it: another one may have taken an expired claim since.
    await redisScripts(this.redis).releaseIfHeld(key, token);
  }
}

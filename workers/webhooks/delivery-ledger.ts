import { createHash, randomBytes } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import { answerOfRecordedBody, type DeliveryAnswer } from './delivery-outcome.js';
import { redisScripts, type RedisScripts } from '../redis-scripts/redis-scripts.js';

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
  /**
   * How long an answered delivery is remembered at least (WEBHOOK_IDEMPOTENCY_TTL_SECONDS): it is kept in a slice of
   * a quarter of this, and forgotten with it, between 1 and 1.25 times this after its answer.
   */
  ttlSeconds: number;
  /** How long a claim lives if its holder dies before answering. */
  claimTtlMs: number;
  /** How long a duplicate waits for the request holding its delivery to answer. */
  waitMs: number;
  /**
   * Whether an answer recorded by a gateway of the previous version (one key per delivery, `keyOf`) is still read:
   * for WEBHOOK_IDEMPOTENCY_TTL_SECONDS after an upgrade it may answer a retry. Default true.
   */
  readPreviousForm?: boolean;
  /**
   * Told when an answer could not be recorded (`commit`) or a claim not given up (`release`); the delivery itself is
   * unaffected. Default: nobody.
   */
  onLedgerError?: (error: unknown, step: 'commit' | 'release') => void;
  /** The clock, in milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number;
}

const pendingPrefix = 'pending:';

/**
 * The value a gateway of the previous version kept for an answered delivery: the hash of the body it answered,
 * and the answer. The version before kept the HTTP `body` it sent instead of the answer: read as the answer it was.
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
 * The body hash a claim of the previous form was made for: `pending:<hash>:<token>`. A claim without one
 * (`pending:<token>`) matches any body, as it did then.
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

/** A slice is a quarter of the window: an entry is remembered for 4 to 5 slices (1 to 1.25 windows). */
const slicesPerWindow = 4;
/** Bits of the bucket number: at least 2^8 buckets a slice, at most 2^24. */
const fewestBits = 8;
const mostBits = 24;
/**
 * Deliveries per bucket aimed at (from the previous slice's count): at most 64 on average, so that a bucket stays
 * under Redis's default hash-max-listpack-entries (128) and is kept as a listpack, ≈ 35 B a delivery.
 */
const perBucket = 64;
/** Digest characters of the body kept in an entry (72 bits): a copy with other bytes is told apart. */
const bodyDigestLength = 12;
/** Bytes of the webhook-id's SHA-256 that name its entry (96 bits) — the next 4 choose its bucket. */
const fieldBytes = 12;

/** Where one delivery lives in the ledger. */
export interface LedgerEntry {
  connectorId: string;
  webhookId: string;
  /** The hash tag of its connector: every key of one delivery is on one Redis Cluster shard. */
  base: string;
  /** Its field in a slice's bucket: 12 bytes of the SHA-256 of the webhook-id. */
  field: Buffer;
  /** The next 32 bits of that digest: the bucket is its top `bits`. */
  bucketSeed: number;
  /** Its claim, while a request holds it. */
  claimKey: string;
  /** Its answer when that is too long for an entry (a delivery with rejected updates). */
  longAnswerKey: string;
  /** The key the previous version kept it under. */
  previousKey: string;
}

/**
 * An answer as kept in an entry: `a<accepted>` for the common case (all updates taken: the webhook-id is the
 * entry's own), '@' when it is kept whole beside (the answer key).
 */
function compactAnswer(answer: DeliveryAnswer, webhookId: string): string | null {
  if (
    answer.kind === 'accepted' &&
    answer.rejected === 0 &&
    answer.problems.length === 0 &&
    answer.webhookId === webhookId
  )
    return `a${answer.accepted}`;
  return null;
}

/** The answer an entry's code (or a long answer's JSON) stands for; null when it is not one of ours. */
function answerOfCode(code: string, webhookId: string): DeliveryAnswer | null {
  if (/^a\d+$/.test(code))
    return { kind: 'accepted', webhookId, accepted: Number(code.slice(1)), rejected: 0, problems: [] };
  try {
    const answer = JSON.parse(code) as DeliveryAnswer;
    return typeof answer === 'object' && answer !== null && typeof answer.kind === 'string' ? answer : null;
  } catch {
    return null;
  }
}

/** Claims of this process are told apart by a random process part and a counter (no random bytes per delivery). */
const processToken = randomBytes(9).toString('base64url');
let claims = 0;

/**
 * The idempotency ledger of webhook deliveries, in Redis. A delivery is claimed (a key with SET NX semantics and a
 * short TTL) before its batch is handed to the queue — so two concurrent copies cannot both enqueue — and its answer
 * replaces the claim only once the batch is durable. Copies arriving meanwhile in this process share the first
 * one's outcome; copies in another gateway wait for the recorded answer.
 *
 * Answers are kept compactly: time slices of a quarter of the window per connector, each a set of small hashes
 * (buckets, chosen by the webhook-id's digest, as many as the previous slice needed for ≈ 64 entries each, so each
 * stays listpack-encoded), one field per delivery — 12 bytes of the webhook-id's SHA-256 → 12 characters of the
 * body's and the answer (`a<count>`, or `@` with the whole answer in a key beside it when updates were rejected).
 * A slice expires whole, 5 slices after it began: a delivery is remembered 1 to 1.25 windows, and a lookup reads
 * the 5 slices still alive. Every key of a connector carries the hash tag `{webhooks:<connector>}`: Redis Cluster
 * spreads connectors over shards, and each operation stays on one.
 *
 * The claim and the answer keep a digest of the raw body they are for (never the body): a copy is only a copy when
 * its bytes are the same. The same id with another body is another message under a reused id — `reused`, at once,
 * whether the first one is answered or still in progress — so a sender that derives ids from something other than
 * the message (the dossier code) hears so instead of losing its later updates.
 *
 * If Redis loses the ledger, or the window has passed, a retried delivery is applied again: harmless, since the
 * writer's version guard makes a repeat a no-op that adds no history row.
 */
export class DeliveryLedger {
  private readonly local = new Map<string, { bodyHash: string; answer: Promise<DeliveryAnswer> }>();
  /** The bits of slices already read (fixed once written; a slice not written yet is asked again after 1 s). */
  private readonly bits = new Map<string, { bits: number | null; at: number }>();
  private readonly sliceSeconds: number;
  private readonly now: () => number;
  private readonly scripts: RedisScripts;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: DeliveryLedgerOptions,
  ) {
    this.sliceSeconds = Math.max(1, Math.ceil(options.ttlSeconds / slicesPerWindow));
    this.now = options.now ?? Date.now;
    // Defined now, before any command: with auto-pipelining, a pipeline already open when a script is defined
    // does not know it.
    this.scripts = redisScripts(redis);
  }

  /** The key the previous version kept a delivery under, one per (connector, webhook-id) for the whole TTL. */
  keyOf(connectorId: string, webhookId: string): string {
    const id = createHash('sha256').update(webhookId, 'utf8').digest('base64url');
    return `${this.options.prefix}:{webhooks}:delivery:${connectorId}:${id}`;
  }

  /** Where a delivery lives in the ledger: the webhook-id is hashed, so any text a sender uses makes a bounded key. */
  entryOf(connectorId: string, webhookId: string): LedgerEntry {
    const digest = createHash('sha256').update(webhookId, 'utf8').digest();
    const field = digest.subarray(0, fieldBytes);
    const id = field.toString('base64url');
    const base = `${this.options.prefix}:{webhooks:${connectorId}}`;
    return {
      connectorId,
      webhookId,
      base,
      field,
      bucketSeed: digest.readUInt32BE(fieldBytes),
      claimKey: `${base}:claim:${id}`,
      longAnswerKey: `${base}:answer:${id}`,
      previousKey: this.keyOf(connectorId, webhookId),
    };
  }

  /** The slice a moment falls in, and when that slice is forgotten (Unix seconds). */
  sliceAt(ms: number): { slice: number; expireAt: number } {
    const slice = Math.floor(ms / 1000 / this.sliceSeconds);
    return { slice, expireAt: (slice + slicesPerWindow + 1) * this.sliceSeconds };
  }

  /** The key of a slice's counts (`b`: its bits, `n`: its deliveries) of a connector. */
  private countsKey(base: string, slice: number): string {
    return `${base}:ledger:${slice}`;
  }

  /** The bucket of a delivery in a slice of `bits` bits. */
  private bucketKey(entry: LedgerEntry, slice: number, bits: number): string {
    const bucket = bits === 0 ? 0 : entry.bucketSeed >>> (32 - bits);
    return `${entry.base}:ledger:${slice}:${bucket}`;
  }

  /** The bits of a slice already written, or null if it is not. */
  private async sliceBits(base: string, slice: number): Promise<number | null> {
    const cacheKey = `${base}\0${slice}`;
    const now = this.now();
    const cached = this.bits.get(cacheKey);
    if (cached && (cached.bits !== null || now - cached.at < 1_000)) return cached.bits;
    const value = await this.redis.hget(this.countsKey(base, slice), 'b');
    const bits = value === null ? null : Number(value);
    this.remember(cacheKey, bits, now);
    return bits;
  }

  private remember(cacheKey: string, bits: number | null, at: number): void {
    // Slices pass: what is cached of ones long forgotten is dropped now and then.
    if (this.bits.size > 10_000) this.bits.clear();
    this.bits.set(cacheKey, { bits, at });
  }

  /**
   * Runs `work` for a delivery (the raw body hashed by `bodyHashOf`) at most once at a time across the fleet,
   * and records its answer when `work` says so. A copy with the same body already answered gets the recorded
   * answer (`replayed` true) without running `work`; one with another body is `reused`.
   */
  async once(
    connectorId: string,
    webhookId: string,
    bodyHash: string,
    work: () => Promise<{ answer: DeliveryAnswer; record: boolean }>,
  ): Promise<Outcome> {
    const entry = this.entryOf(connectorId, webhookId);
    const localKey = entry.claimKey;
    const running = this.local.get(localKey);
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
      claim = await this.claim(entry, bodyHash);
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
    this.local.set(localKey, { bodyHash, answer: shared });
    try {
      const { answer, record } = await work();
      if (record) {
        settle.resolve(answer);
        // The delivery is durable whatever happens to its record here: if Redis cannot keep the answer, a
        // retry is applied again, which the version guard makes harmless.
        await this.commit(entry, bodyHash, claim.token, answer).catch((error: unknown) =>
          this.options.onLedgerError?.(error, 'commit'),
        );
      } else {
        settle.reject(new Error('not recorded'));
        await this.release(entry, claim.token).catch((error: unknown) =>
          this.options.onLedgerError?.(error, 'release'),
        );
      }
      return { kind: 'answered', answer, replayed: false };
    } catch (error) {
      settle.reject(error);
      // The claim lapses after claimTtlMs if it cannot be given up now: a retry meanwhile is answered 409 in progress.
      await this.release(entry, claim.token).catch((failure: unknown) =>
        this.options.onLedgerError?.(failure, 'release'),
      );
      throw error;
    } finally {
      this.local.delete(localKey);
    }
  }

  /** What the previous version kept for a delivery: its answer, or reused; null when it has nothing to say. */
  private async previousForm(entry: LedgerEntry, bodyHash: string): Promise<Claim | null> {
    if (this.options.readPreviousForm === false) return null;
    const value = await this.redis.get(entry.previousKey);
    if (value === null) return null;
    if (value.startsWith(pendingPrefix)) {
      // A gateway of the previous version is processing it right now, during a rolling upgrade: a copy processed
      // here too is at worst applied twice, which the version guard makes harmless; another body is still reused.
      const held = claimedHash(value);
      return held !== null && held !== bodyHash ? { kind: 'reused' } : null;
    }
    const recorded = readRecord(value);
    if (!recorded) return null;
    // A record without a hash was written by a gateway of an earlier version: it answers any body, as then.
    if (recorded.bodyHash !== undefined && recorded.bodyHash !== bodyHash) return { kind: 'reused' };
    return { kind: 'answered', answer: recorded.answer };
  }

  /**
   * Claims a delivery, or finds its answer; waits (up to `waitMs`) while another gateway holds it for the same body.
   */
  private async claim(entry: LedgerEntry, bodyHash: string): Promise<Claim> {
    const previous = this.previousForm(entry, bodyHash);
    // Awaited with the first claim; if Redis fails before that, its rejection must not be an unhandled one.
    previous.catch(() => {});
    const digest = bodyHash.slice(0, bodyDigestLength);
    const token = `${digest}:${processToken}.${++claims}`;
    const deadline = this.now() + this.options.waitMs;
    for (let delay = 10, first = true; ; delay = Math.min(delay * 2, 200), first = false) {
      if (!first && this.now() > deadline) return { kind: 'in_progress' };
      const { slice } = this.sliceAt(this.now());
      const slices = Array.from({ length: slicesPerWindow + 1 }, (_, back) => slice - back);
      const bits = await Promise.all(slices.map((at) => this.sliceBits(entry.base, at)));
      const buckets = slices.flatMap((at, i) => (bits[i] == null ? [] : [this.bucketKey(entry, at, bits[i])]));
      const [reply, before] = await Promise.all([
        this.scripts.ledgerClaim(
          [entry.claimKey, entry.longAnswerKey, ...buckets],
          entry.field,
          token,
          this.options.claimTtlMs,
          digest,
        ),
        first ? previous : null,
      ]);
      if (before) {
        // Answered (or held for another body) before the upgrade: that answer stands; a claim just taken is given up.
        if (reply[0] === 'claimed') await this.release(entry, token);
        return before;
      }
      const [kind, code] = reply;
      if (kind === 'claimed') return { kind: 'claimed', token };
      if (kind === 'reused') return { kind: 'reused' };
      if (kind === 'answered') {
        const answer = answerOfCode(code!, entry.webhookId);
        if (answer) return { kind: 'answered', answer };
        // Not ours to read: it lapses with its slice; meanwhile the delivery waits as if in progress.
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Records a delivery's answer, and the digest of the body it answers, in place of its claim. */
  private async commit(entry: LedgerEntry, bodyHash: string, token: string, answer: DeliveryAnswer): Promise<void> {
    const { slice, expireAt } = this.sliceAt(this.now());
    const scripts = this.scripts;
    let bits = await this.sliceBits(entry.base, slice);
    if (bits === null) {
      bits = await scripts.ledgerSliceBits(
        this.countsKey(entry.base, slice),
        this.countsKey(entry.base, slice - 1),
        fewestBits,
        mostBits,
        perBucket,
        expireAt,
      );
      this.remember(`${entry.base}\0${slice}`, bits, this.now());
    }
    const compact = compactAnswer(answer, entry.webhookId);
    await scripts.ledgerCommit(
      entry.claimKey,
      this.bucketKey(entry, slice, bits),
      this.countsKey(entry.base, slice),
      entry.longAnswerKey,
      entry.field,
      bodyHash.slice(0, bodyDigestLength) + (compact ?? '@'),
      expireAt,
      token,
      compact === null ? JSON.stringify(answer) : '',
    );
  }

  /** Gives a claim up (the delivery was refused, or failed): a retry is processed afresh. */
  private async release(entry: LedgerEntry, token: string): Promise<void> {
    // Only if this request still holds it: another one may have taken an expired claim since.
    await this.scripts.releaseIfHeld(entry.claimKey, token);
  }
}

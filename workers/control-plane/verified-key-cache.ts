import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { verifyApiKey, type KeyVerification } from './api-key-store.js';

/** Options of the cache. */
export interface VerifiedKeyCacheOptions {
  /**
   * How long a key found valid is trusted without asking Postgres again: a revoked key is refused by every gateway
   * process at most this long after `fleet apikey revoke`. Default 10000 ms.
   */
  ttlMs?: number;
  /** Keys kept at most; the oldest goes first. Default 10000. */
  maxEntries?: number;
  /** The clock. Default: `Date.now`. */
  now?: () => number;
}

/**
 * Verifies API keys as `verifyApiKey` does, remembering the valid ones for a few seconds: a lookup is otherwise two
 * statements per request (find the key, note its use) for an answer that changes only when a key is revoked.
 * Unknown and revoked keys are always asked again, so a new key works at once. Entries are keyed by the key's
 * SHA-256, never the key.
 */
export class VerifiedKeyCache {
  private readonly entries = new Map<string, { verification: KeyVerification; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Kysely<Database>,
    options: VerifiedKeyCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** What the presented key is: from the cache while a valid answer is fresh, else from Postgres. */
  async verify(presented: string): Promise<KeyVerification> {
    const id = createHash('sha256').update(presented, 'utf8').digest('base64');
    const cached = this.entries.get(id);
    if (cached && cached.until > this.now()) return cached.verification;
    this.entries.delete(id);
    const verification = await verifyApiKey(this.db, presented);
    if (verification.status === 'valid') {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(id, { verification, until: this.now() + this.ttlMs });
    }
    return verification;
  }
}

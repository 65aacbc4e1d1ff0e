import { createHash } from 'node:crypto';
import type { SummaryEntry } from './connector.js';

// The order-independent hash of a set of dossiers that a summary carries (connector.ts, SourceSummary, and
// connectors/reconcile-summary.openapi.yaml). One definition for the simulator, the connectors and the
// reconciler; db/queries computes the same sum in SQL over the stored copy.

const modulus = 1n << 64n;

/** The hash of one dossier: the first 8 bytes of SHA-256 of `code\nversion\nstatus`, as an unsigned integer. */
export function entryHash(entry: SummaryEntry): bigint {
  const digest = createHash('sha256').update(`${entry.dossierCode}\n${entry.sourceVersion}\n${entry.status}`).digest();
  return digest.readBigUInt64BE(0);
}

/** Adds dossiers to a running summary, in any order. */
export class SummaryHash {
  private sum = 0n;
  private entries = 0;

  /** Adds one dossier. */
  add(entry: SummaryEntry): void {
    this.sum = (this.sum + entryHash(entry)) % modulus;
    this.entries += 1;
  }

  /** How many dossiers were added. */
  get count(): number {
    return this.entries;
  }

  /** The hash as 16 lower-case hex digits. */
  get hash(): string {
    return this.sum.toString(16).padStart(16, '0');
  }
}

/** The digest of a set of dossiers. */
export function digestOf(entries: Iterable<SummaryEntry>): { count: number; hash: string } {
  const summary = new SummaryHash();
  for (const entry of entries) summary.add(entry);
  return { count: summary.count, hash: summary.hash };
}

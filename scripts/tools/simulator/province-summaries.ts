import type { SummaryEntry } from '../../../connectors/sdk/connector.js';
import { entryHash } from '../../../connectors/sdk/summary-hash.js';
import type { CursorIndex } from './cursor-index.js';
import type { SimulatedDossier } from './simulated-dossier.js';

/** The most entries a listing answers; a larger scope is refused (the caller narrows it, or asks for a digest). */
export const maxListingEntries = 10_000;

/** A set of one province's dossiers: update time in [updatedFrom, updatedTo) (epoch ms), code in [codeFrom, codeTo). */
export interface SimulatorScope {
  updatedFrom: number;
  updatedTo: number;
  /** Null: no lower bound. Codes compare as plain strings (UTF-16 code units; the codes are ASCII). */
  codeFrom: string | null;
  /** Null: no upper bound. */
  codeTo: string | null;
}

/** A listing larger than `maxListingEntries`: the message says how large and what to do. */
export class ListingTooLargeError extends Error {
  override readonly name = 'ListingTooLargeError';
}

const two32 = 2 ** 32;

/** A dossier's hash split in two 32-bit halves (sums of up to 2^21 halves stay exact in a double). */
interface CachedHash {
  version: number;
  status: number;
  high: number;
  low: number;
}

/** A running sum of hashes in halves; `carry` keeps the low half below 2^32 between batches. */
class HashSum {
  count = 0;
  high = 0;
  low = 0;

  add(high: number, low: number, count = 1): void {
    this.high += high;
    this.low += low;
    this.count += count;
  }

  carry(): void {
    const over = Math.floor(this.low / two32);
    this.low -= over * two32;
    this.high = (this.high + over) % two32;
  }

  get hash(): string {
    this.carry();
    return ((BigInt(this.high) << 32n) + BigInt(this.low)).toString(16).padStart(16, '0');
  }
}

/**
 * Summaries of one province's dossiers, computed from the cursor index the pages are served from, so a summary
 * always describes what the pages serve. The entry is (code, version, status): version the PhienBan the pages
 * carry (the national-rest connector's sourceVersion), status the dossier's real national code (the truth's,
 * even when the wire garbles it for a malformed dossier).
 *
 * Cost: each dossier's hash is computed once per (version, status) and kept; each run of the index (≤ 1,024
 * dossiers in update-time order) keeps its sum until a dossier of it changes. A digest without code bounds is
 * then O(log n + runs in the time range + dossiers in the two runs cut by a bound): a 30-day, 1,000,000-dossier
 * province summarised whole adds ~1,000 run sums. With code bounds every dossier in the time range is tested
 * (O(dossiers in the time range), hashes cached): drill-downs narrow time first, so the range is small by then.
 */
export class ProvinceSummaries {
  private readonly hashes = new WeakMap<SimulatedDossier, CachedHash>();
  private readonly runSums = new WeakMap<readonly SimulatedDossier[], { revision: number; sum: HashSum }>();

  constructor(private readonly index: CursorIndex) {}

  /** The count and hash of the dossiers in the scope (connectors/sdk/summary-hash.ts defines the hash). */
  digest(scope: SimulatorScope): { count: number; hash: string } {
    const total = new HashSum();
    const codeBounded = scope.codeFrom !== null || scope.codeTo !== null;
    for (const { run, start, end } of this.index.slicesBetween(scope.updatedFrom, scope.updatedTo)) {
      if (!codeBounded && start === 0 && end === run.length) {
        const sum = this.runSum(run);
        total.add(sum.high, sum.low, sum.count);
      } else {
        for (let position = start; position < end; position++) {
          const dossier = run[position] as SimulatedDossier;
          if (!inCodeRange(dossier.code, scope)) continue;
          const { high, low } = this.hashOf(dossier);
          total.add(high, low);
        }
      }
      total.carry();
    }
    return { count: total.count, hash: total.hash };
  }

  /** The entries of the scope in cursor order; throws ListingTooLargeError above `limit`. */
  listing(scope: SimulatorScope, limit = maxListingEntries): SummaryEntry[] {
    const entries: SummaryEntry[] = [];
    for (const dossier of this.dossiersIn(scope)) {
      if (entries.length === limit) {
        throw new ListingTooLargeError(
          `the scope holds more than ${limit} dossiers, too many to list; narrow updatedFrom/updatedTo or codeFrom/codeTo, or ask for a digest`,
        );
      }
      entries.push(summaryEntry(dossier));
    }
    return entries;
  }

  /** The dossiers in the scope, in cursor order. */
  *dossiersIn(scope: SimulatorScope): Generator<SimulatedDossier> {
    for (const { run, start, end } of this.index.slicesBetween(scope.updatedFrom, scope.updatedTo)) {
      for (let position = start; position < end; position++) {
        const dossier = run[position] as SimulatedDossier;
        if (inCodeRange(dossier.code, scope)) yield dossier;
      }
    }
  }

  private runSum(run: readonly SimulatedDossier[]): HashSum {
    const revision = this.index.runRevision(run);
    const kept = this.runSums.get(run);
    if (kept && kept.revision === revision) return kept.sum;
    const sum = new HashSum();
    for (const dossier of run) {
      const { high, low } = this.hashOf(dossier);
      sum.add(high, low);
    }
    sum.carry();
    this.runSums.set(run, { revision, sum });
    return sum;
  }

  private hashOf(dossier: SimulatedDossier): CachedHash {
    const kept = this.hashes.get(dossier);
    if (kept && kept.version === dossier.version && kept.status === dossier.status) return kept;
    const hash = entryHash(summaryEntry(dossier));
    const fresh = {
      version: dossier.version,
      status: dossier.status,
      high: Number(hash >> 32n),
      low: Number(hash & 0xffffffffn),
    };
    this.hashes.set(dossier, fresh);
    return fresh;
  }
}

/** A dossier as a summary lists it. */
export function summaryEntry(dossier: SimulatedDossier): SummaryEntry {
  return { dossierCode: dossier.code, sourceVersion: dossier.version, status: dossier.status };
}

function inCodeRange(code: string, { codeFrom, codeTo }: SimulatorScope): boolean {
  return (codeFrom === null || code >= codeFrom) && (codeTo === null || code < codeTo);
}

import { createHash } from 'node:crypto';
import type { SummaryEntry } from '../../../connectors/sdk/connector.js';
import type { CursorIndex } from './cursor-index.js';
import type { SimulatedDossier, SummaryHash } from './simulated-dossier.js';

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

/** One run's hashes by position, their prefix sums, and their sum, at a revision of the run. */
interface RunHashes {
  revision: number;
  highs: Uint32Array;
  lows: Uint32Array;
  /** Sums of the halves of positions [0, i) (exact: ≤ 1,024 × 2^32 < 2^53): any stretch of the run in O(1). */
  prefixHighs: Float64Array;
  prefixLows: Float64Array;
  sum: HashSum;
  /** Built on demand by the first code-bounded summary that covers the whole run. */
  byCode?: CodeOrder;
}

/** A run's codes in code order, with prefix sums of their hash halves (exact: ≤ 1,024 × 2^32 < 2^53). */
interface CodeOrder {
  codes: string[];
  highs: Float64Array;
  lows: Float64Array;
}

/** The run's code order, built on the first code-bounded summary of the run at this revision. */
function codeOrderOf(run: readonly SimulatedDossier[], hashes: RunHashes): CodeOrder {
  if (hashes.byCode) return hashes.byCode;
  const positions = run.map((_, position) => position);
  positions.sort((a, b) => {
    const [x, y] = [(run[a] as SimulatedDossier).code, (run[b] as SimulatedDossier).code];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const order: CodeOrder = {
    codes: positions.map((position) => (run[position] as SimulatedDossier).code),
    highs: new Float64Array(run.length + 1),
    lows: new Float64Array(run.length + 1),
  };
  for (const [rank, position] of positions.entries()) {
    order.highs[rank + 1] = (order.highs[rank] as number) + (hashes.highs[position] as number);
    order.lows[rank + 1] = (order.lows[rank] as number) + (hashes.lows[position] as number);
  }
  hashes.byCode = order;
  return order;
}

/** The first index of sorted `codes` at or after `code` (plain string order); codes.length if none. */
function firstAtOrAfter(codes: readonly string[], code: string): number {
  let low = 0;
  let high = codes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((codes[middle] as string) < code) low = middle + 1;
    else high = middle;
  }
  return low;
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
 * Cost: each dossier's hash is computed once per (version, status) and kept; each run of the index (≤ 1,024 dossiers in
 * update-time order) keeps its hashes by position, their prefix sums and their sum until a dossier of it changes. A
 * digest without code bounds is then O(log n + runs in the time range): a 30-day, 1,000,000-dossier province summarised
 * whole adds ~1,000 run sums, and a run cut by a bound is a difference of two prefix sums (what a vendor's system would
 * index to answer many small scopes; a reconcile's level asks for 5,000 at once). With code bounds, a whole run also
 * keeps its codes sorted with prefix sums of their hashes (built once per revision), so its part of a code range is two
 * binary searches: O(log n + runs in the time range × log 1,024 + dossiers in the two cut runs).
 */
export class ProvinceSummaries {
  private readonly runHashes = new WeakMap<readonly SimulatedDossier[], RunHashes>();

  constructor(private readonly index: CursorIndex) {}

  /** The count and hash of the dossiers in the scope (connectors/sdk/summary-hash.ts defines the hash). */
  digest(scope: SimulatorScope): { count: number; hash: string } {
    const total = new HashSum();
    const codeBounded = scope.codeFrom !== null || scope.codeTo !== null;
    for (const { run, start, end } of this.index.slicesBetween(scope.updatedFrom, scope.updatedTo)) {
      const hashes = this.hashesOf(run);
      const whole = start === 0 && end === run.length;
      if (whole && !codeBounded) total.add(hashes.sum.high, hashes.sum.low, run.length);
      else if (whole) {
        // A whole run inside the time range: its code range is two binary searches in its code order.
        const order = codeOrderOf(run, hashes);
        const first = scope.codeFrom === null ? 0 : firstAtOrAfter(order.codes, scope.codeFrom);
        const last = scope.codeTo === null ? order.codes.length : firstAtOrAfter(order.codes, scope.codeTo);
        if (first < last)
          total.add(
            (order.highs[last] as number) - (order.highs[first] as number),
            (order.lows[last] as number) - (order.lows[first] as number),
            last - first,
          );
      } else if (!codeBounded) {
        // Part of a run in update-time order: the difference of two prefix sums, as a vendor's index would keep.
        total.add(
          (hashes.prefixHighs[end] as number) - (hashes.prefixHighs[start] as number),
          (hashes.prefixLows[end] as number) - (hashes.prefixLows[start] as number),
          end - start,
        );
      } else {
        for (let position = start; position < end; position++) {
          if (codeBounded && !inCodeRange((run[position] as SimulatedDossier).code, scope)) continue;
          total.add(hashes.highs[position] as number, hashes.lows[position] as number);
        }
      }
      total.carry();
    }
    return { count: total.count, hash: total.hash };
  }

  /**
   * Computes every run's hashes ahead of the first summary, a few runs at a time between other work (a
   * 1,000,000-dossier province takes seconds of CPU: a first summary must not wait for it and time out). Stops
   * early when `cancelled` says so; runs that change meanwhile are simply computed again when asked.
   */
  async warm(cancelled: () => boolean): Promise<void> {
    const runs = [...this.index.slicesBetween(-Infinity, Infinity)].map(({ run }) => run);
    for (let from = 0; from < runs.length && !cancelled(); from += 16) {
      for (const run of runs.slice(from, from + 16)) this.hashesOf(run);
      await new Promise((resolve) => setImmediate(resolve));
    }
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

  /** The run's hashes position by position and their sum, kept until a dossier of the run changes. */
  private hashesOf(run: readonly SimulatedDossier[]): RunHashes {
    const revision = this.index.runRevision(run);
    const kept = this.runHashes.get(run);
    if (kept && kept.revision === revision) return kept;
    const hashes: RunHashes = {
      revision,
      highs: new Uint32Array(run.length),
      lows: new Uint32Array(run.length),
      prefixHighs: new Float64Array(run.length + 1),
      prefixLows: new Float64Array(run.length + 1),
      sum: new HashSum(),
    };
    for (let position = 0; position < run.length; position++) {
      const { high, low } = this.hashOf(run[position] as SimulatedDossier);
      hashes.highs[position] = high;
      hashes.lows[position] = low;
      hashes.prefixHighs[position + 1] = (hashes.prefixHighs[position] as number) + high;
      hashes.prefixLows[position + 1] = (hashes.prefixLows[position] as number) + low;
      hashes.sum.add(high, low);
    }
    hashes.sum.carry();
    this.runHashes.set(run, hashes);
    return hashes;
  }

  /**
   * connectors/sdk/summary-hash.ts's entryHash, read as two halves without a BigInt; kept on the dossier per (version,
   * status). On the dossier, not in a WeakMap beside it: rebuilding the runs a 0.1% drift touched reads half a million
   * kept hashes, and a WeakMap of a million keys made that ~0.4 s of a reconcile's first level.
   */
  private hashOf(dossier: SimulatedDossier): SummaryHash {
    const kept = dossier.summaryHash;
    if (kept && kept.version === dossier.version && kept.status === dossier.status) return kept;
    const digest = createHash('sha256').update(`${dossier.code}\n${dossier.version}\n${dossier.status}`).digest();
    const fresh = {
      version: dossier.version,
      status: dossier.status,
      high: digest.readUInt32BE(0),
      low: digest.readUInt32BE(4),
    };
    dossier.summaryHash = fresh;
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

import type { SimulatedDossier } from './simulated-dossier.js';

/**
 * Where a page starts: everything updated at or after `updatedSince`, or strictly after (`updatedSince`, `afterCode`).
 */
export interface CursorStart {
  updatedSince: number | null;
  afterCode: string | null;
}

// One flat array of 200,000 objects costs ~0.2 ms per splice (V8 moves every pointer behind GC barriers),
// too slow for hundreds of changes a tick; runs of at most this many keep a splice to microseconds.
const maxRunLength = 1024;

/**
 * One province's dossiers in cursor order, (NgayCapNhat, MaHoSo) ascending with plain string comparison of
 * codes: a sorted array, stored as consecutive short sorted runs. A page is a binary search and a slice; a
 * change goes through `update`, which takes the dossier out under its old key and puts it back under the new.
 */
export class CursorIndex {
  private readonly runs: SimulatedDossier[][] = [];
  /** Each run's revision (runRevision); a run not in the map is at revision 0. */
  private readonly revisions = new WeakMap<readonly SimulatedDossier[], number>();
  private revision = 0;

  /** Indexes the dossiers; they must not change later except through `update`. */
  constructor(dossiers: readonly SimulatedDossier[]) {
    const sorted = [...dossiers].sort(compareCursor);
    // Half-full runs leave room for inserts before the first split.
    for (let from = 0; from < sorted.length; from += maxRunLength / 2)
      this.runs.push(sorted.slice(from, from + maxRunLength / 2));
  }

  /** Applies `change` to a dossier of this index and moves it to its new place. */
  update(dossier: SimulatedDossier, change: (dossier: SimulatedDossier) => void): void {
    this.remove(dossier);
    change(dossier);
    this.insert(dossier);
  }

  /**
   * The first `limit` dossiers at or after the cursor start, after skipping `skip` of them (offset paging,
   * for dialects that page by number), and whether more follow; with `before`, only those updated before it (one
   * time window).
   */
  page(
    start: CursorStart,
    limit: number,
    skip = 0,
    before: number | null = null,
  ): { dossiers: SimulatedDossier[]; hasMore: boolean } {
    let [run, position] = this.startOf(start);
    // Skipping whole runs at a time keeps a deep offset cheap: offset 100,000 walks a few hundred runs, not 100,000
    // dossiers.
    let toSkip = skip;
    while (toSkip > 0 && run < this.runs.length) {
      const left = (this.runs[run] as SimulatedDossier[]).length - position;
      if (toSkip < left) [position, toSkip] = [position + toSkip, 0];
      else [run, position, toSkip] = [run + 1, 0, toSkip - left];
    }
    const dossiers: SimulatedDossier[] = [];
    const inWindow = (dossier: SimulatedDossier) => before === null || dossier.updatedAt < before;
    while (run < this.runs.length) {
      const entries = this.runs[run] as SimulatedDossier[];
      if (dossiers.length === limit) return { dossiers, hasMore: inWindow(entries[position] as SimulatedDossier) };
      const taken = entries.slice(position, position + limit - dossiers.length);
      // The index is in update-time order: the first dossier past the window ends the page, and the walk.
      const outside = taken.findIndex((dossier) => !inWindow(dossier));
      if (outside >= 0) {
        dossiers.push(...taken.slice(0, outside));
        return { dossiers, hasMore: false };
      }
      dossiers.push(...taken);
      position += taken.length;
      if (position === entries.length) [run, position] = [run + 1, 0];
    }
    return { dossiers, hasMore: false };
  }

  /**
   * The dossiers updated in [from, to), as slices of the index's runs in cursor order: `run` is the whole run a
   * slice is of, and stays the same array object until a dossier of it changes (a cache key: see `runRevision`).
   * O(log n) to find the bounds, then one step per run.
   */
  *slicesBetween(
    from: number,
    to: number,
  ): Generator<{ run: readonly SimulatedDossier[]; start: number; end: number }> {
    if (!(from < to)) return;
    const [firstRun, firstPosition] = this.locate(from, '', false);
    const [lastRun, lastPosition] = this.locate(to, '', false);
    for (let run = firstRun; run <= lastRun && run < this.runs.length; run++) {
      const entries = this.runs[run] as SimulatedDossier[];
      const start = run === firstRun ? firstPosition : 0;
      const end = run === lastRun ? lastPosition : entries.length;
      if (start < end) yield { run: entries, start, end };
    }
  }

  /**
   * A number that changes whenever a dossier is taken out of or put into the run (so a value computed from a run
   * may be kept until then); runs are the arrays `slicesBetween` yields.
   */
  runRevision(run: readonly SimulatedDossier[]): number {
    return this.revisions.get(run) ?? 0;
  }

  /** Takes a dossier out of the index for good (it was deleted at the source). */
  delete(dossier: SimulatedDossier): void {
    this.remove(dossier);
  }

  /** How many dossiers are at or after the cursor start (a page total for dialects that report one). */
  countFrom(start: CursorStart): number {
    const [run, position] = this.startOf(start);
    let count = 0;
    for (let index = run; index < this.runs.length; index++) count += (this.runs[index] as SimulatedDossier[]).length;
    return count - position;
  }

  private startOf({ updatedSince, afterCode }: CursorStart): [run: number, position: number] {
    // Every code sorts after '', so (updatedSince, '') inclusive means "updated at or after updatedSince".
    return updatedSince === null ? [0, 0] : this.locate(updatedSince, afterCode ?? '', afterCode !== null);
  }

  private remove(dossier: SimulatedDossier): void {
    const [run, position] = this.locate(dossier.updatedAt, dossier.code, false);
    const entries = this.runs[run];
    if (entries?.[position] !== dossier) throw new Error(`dossier ${dossier.code} is not in the cursor index`);
    entries.splice(position, 1);
    this.revisions.set(entries, ++this.revision);
    if (entries.length === 0) this.runs.splice(run, 1);
  }

  private insert(dossier: SimulatedDossier): void {
    let [run, position] = this.locate(dossier.updatedAt, dossier.code, false);
    if (run === this.runs.length) {
      // After everything: the usual case, since a change stamps the dossier with the current time.
      if (run === 0) this.runs.push([]);
      run = this.runs.length - 1;
      position = (this.runs[run] as SimulatedDossier[]).length;
    }
    const entries = this.runs[run] as SimulatedDossier[];
    entries.splice(position, 0, dossier);
    this.revisions.set(entries, ++this.revision);
    if (entries.length > maxRunLength)
      this.runs.splice(run, 1, entries.slice(0, maxRunLength / 2), entries.slice(maxRunLength / 2));
  }

  /**
   * Binary searches for the first dossier whose key is at or after (strictly after, if `strict`) the given
   * key: first the run, by its last dossier, then the position within it. [runs.length, 0] when there is none.
   */
  private locate(updatedAt: number, code: string, strict: boolean): [run: number, position: number] {
    const isAtOrAfter = (dossier: SimulatedDossier) => {
      const order = compareKey(dossier, updatedAt, code);
      return order > 0 || (order === 0 && !strict);
    };
    const run = firstIndex(this.runs.length, (index) =>
      isAtOrAfter((this.runs[index] as SimulatedDossier[]).at(-1) as SimulatedDossier),
    );
    const entries = this.runs[run];
    return [run, entries ? firstIndex(entries.length, (index) => isAtOrAfter(entries[index] as SimulatedDossier)) : 0];
  }
}

/** Cursor order: NgayCapNhat, then MaHoSo by plain string comparison (not locale-aware, so every client agrees). */
export function compareCursor(a: SimulatedDossier, b: SimulatedDossier): number {
  return compareKey(a, b.updatedAt, b.code);
}

function compareKey(dossier: SimulatedDossier, updatedAt: number, code: string): number {
  if (dossier.updatedAt !== updatedAt) return dossier.updatedAt - updatedAt;
  return dossier.code < code ? -1 : dossier.code > code ? 1 : 0;
}

/** The first index in [0, length) where `holds` is true, given it is false then true; `length` if never. */
function firstIndex(length: number, holds: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (holds(middle)) high = middle;
    else low = middle + 1;
  }
  return low;
}

import type { Kysely } from 'kysely';
import type {
  Connector,
  ReadState,
  SourcePage,
  SourceSummary,
  SummaryEntry,
  SummaryScope,
  TimeWindow,
} from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { mapItems, type MappingContext } from '../../connectors/sdk/normalise.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import { insertAnomalies, type NewAnomaly } from '../../db/queries/dossier-anomalies.js';
import {
  storedByCode,
  storedCount,
  storedDigest,
  storedDigestsBySlice,
  storedEntries,
  storedMedianCode,
} from '../../db/queries/reconcile-copy.js';
import {
  confirmProvisional,
  finishBuckets,
  findReconcileRun,
  settledCodes,
  recordMismatches,
  settleRun,
  type NewMismatch,
} from '../../db/queries/reconcile-runs.js';
import type { Database, ReconcileMethod, ReconcileStatus } from '../../db/schema.js';
import type { CommittingQueue } from '../poller/poll-run.js';
import type { IngestBatch } from '../queue/queues.js';
import { BreadthFirstDrill } from './breadth-first-drill.js';
import { PhaseTimes } from './phase-times.js';
import { bucketAt, bucketCount } from './reconcile-buckets.js';
import { compareListing, dossiersIn, emptyFindings, type Findings, type SourceSide } from './reconcile-findings.js';

/** What this process did of a run so far, for the progress line. */
export interface ReconcileCounts {
  bucketsDone: number;
  bucketsTotal: number;
  /** Mismatches the run has found (stored: every process's) and how many are repaired. */
  mismatches: number;
  repaired: number;
  /** Requests to the source and records read by this process. */
  requests: number;
  records: number;
}

/** How a run ended in this process: finished, stopped by a signal (resumable), or no longer running. */
export type ReconcileEnd = 'done' | 'interrupted' | 'stopped';

/** How the engine reaches the source: every call through the breaker and retries (SourceGuard). */
export type SourceCall = <T>(call: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

/** What a reconcile run needs. */
export interface ReconcileRunOptions {
  db: Kysely<Database>;
  runId: string;
  connector: Connector;
  connectorId: string;
  /** The connector's province as its source names it, the code set, and the current (2025) province. */
  sourceProvinceCode: string;
  sourceCodeSet: MappingContext['sourceCodeSet'];
  provinceCode: string;
  range: TimeWindow;
  method: ReconcileMethod;
  /** Buckets finished when this process starts (or takes the run over). */
  bucketsDone: number;
  sink: CommittingQueue;
  call: SourceCall;
  /** The requests made so far (a CountingGate's count). */
  requests: () => number;
  /** A listing is asked for scopes of at most this many of our dossiers (split before). Default 2,000. */
  listingLimit?: number;
  /** A differing digest scope is read page by page (readWindow) once it holds at most this many. Default 200. */
  leafSize?: number;
  /**
   * With a source's multi-scope summaries (summariseMany): a differing scope holding at most this many dossiers is
   * listed rather than split. Default 64.
   */
  multiLeafSize?: number;
  /**
   * With multi-scope summaries: how many buckets of a pass are resolved (recorded, repaired, one repair batch
   * waited for) together; a kill resumes at the first bucket of an unfinished group. Default 4.
   */
  bucketsPerResolve?: number;
  /** With multi-scope summaries: how many buckets one breadth-first pass compares. Default 400. */
  bucketsPerPass?: number;
  /** A window compared page by page holds at most this many of our dossiers (split before). Default 20,000. */
  pageWindowLimit?: number;
  /** How long to wait for the writer to commit a repair batch. Default 5 minutes. */
  commitTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (counts: Readonly<ReconcileCounts>) => void;
}

/** The smallest window drilling down splits by time; below it, by code. */
const minWindowMs = 1000;
/** How many time slices a differing digest scope is cut into. */
const fanOut = 16;

/**
 * One reconcile run: bucket by bucket from the stored position, compares our copy with the source, names the
 * dossiers that differ, records each mismatch once, re-fetches and queues exactly the repairable ones to the
 * writer, waits for the commit, and moves the stored position past the bucket. A run killed mid-bucket compares
 * that bucket again: what was repaired matches now and what was recorded is not counted twice.
 */
export class ReconcileRun {
  private readonly listingLimit: number;
  private readonly leafSize: number;
  private readonly pageWindowLimit: number;
  private scopes = 0;
  private records = 0;
  /** The records a breadth-first pass fetched for its buckets (a code asked for and absent: the source has none). */
  private prefetched: { asked: Set<string>; records: Map<string, DossierRecord> } | null = null;
  private readonly counts: ReconcileCounts;
  /** Where this process's time of the run went, by phase (logged with the run's end). */
  readonly phases = new PhaseTimes();

  constructor(private readonly options: ReconcileRunOptions) {
    this.listingLimit = options.listingLimit ?? 2000;
    this.leafSize = options.leafSize ?? 200;
    this.pageWindowLimit = options.pageWindowLimit ?? 20_000;
    this.counts = {
      bucketsDone: options.bucketsDone,
      bucketsTotal: bucketCount(options.range),
      mismatches: 0,
      repaired: 0,
      requests: 0,
      records: 0,
    };
  }

  /** Runs to the end of the range, a signal, or a failure (thrown; the run stays resumable). */
  async run(): Promise<ReconcileEnd> {
    const { db, runId, signal } = this.options;
    // Repairs a killed process queued but did not see committed are settled (or queued again) first.
    await this.phases.time('bookkeeping', () => this.repairPending());
    const breadthFirst = this.options.method === 'digest' && typeof this.options.connector.summariseMany === 'function';
    const passSize = breadthFirst ? (this.options.bucketsPerPass ?? 400) : 1;
    for (let first = this.options.bucketsDone; first < this.counts.bucketsTotal; first += passSize) {
      if (signal?.aborted) break;
      if ((await this.phases.time('bookkeeping', () => this.status())) !== 'running') return 'stopped';
      const last = Math.min(first + passSize, this.counts.bucketsTotal);
      let startedAt = Date.now();
      let requestsBefore = this.options.requests();
      let recordsBefore = this.records;
      let scopesBefore = this.scopes;
      let found: Findings[];
      try {
        found = breadthFirst
          ? await this.comparePass(first, last)
          : [await this.compareBucket(bucketAt(this.options.range, first))];
      } catch (error) {
        if (signal?.aborted) break;
        throw error;
      }
      // The pass's buckets are resolved a few at a time (a group), so that a kill resumes at the first bucket of
      // an unfinished group: every group's mismatches are recorded and its repairs queued to the writer first, then
      // the commits are awaited in order and each group's buckets finished once its own repairs are committed and
      // settled. The pass waits for the writer once, not once per group; groups whose repairs are already committed
      // when the pass reaches them are finished with the one before them, one settle and one move of the position
      // for all. The pass's requests are counted in its first bucket.
      const group = breadthFirst ? (this.options.bucketsPerResolve ?? 4) : 1;
      const groups: { end: number; findings: Findings[]; committed: Promise<void>; isCommitted: boolean }[] = [];
      let interrupted = false;
      try {
        if (breadthFirst && (await this.phases.time('bookkeeping', () => this.status())) !== 'running')
          return 'stopped';
        for (let index = first; index < last && !signal?.aborted; index += group) {
          const end = Math.min(index + group, last);
          const findings = found.slice(index - first, end - first);
          const { committed } = await this.resolve(merged(findings));
          const resolved = { end, findings, committed, isCommitted: false };
          // Awaited below; a run stopped before then must not leave an unhandled rejection.
          committed.then(
            () => (resolved.isCommitted = true),
            () => {},
          );
          groups.push(resolved);
        }
        for (let next = 0; next < groups.length;) {
          if (signal?.aborted) break;
          await this.phases.time('repair', () => groups[next]!.committed);
          let through = next;
          while (groups[through + 1]?.isCommitted) through += 1;
          const { end } = groups[through]!;
          const findings = groups.slice(next, through + 1).flatMap((one) => one.findings);
          next = through + 1;
          await this.phases.time('bookkeeping', () => settleRun(db, runId));
          const after = await this.phases.time('bookkeeping', () =>
            finishBuckets(db, runId, end, {
              differing: findings.filter((one) => one.source.size + one.oursOnly.size > 0).length,
              scopes: this.scopes - scopesBefore,
              requests: this.options.requests() - requestsBefore,
              records: this.records - recordsBefore,
              seconds: (Date.now() - startedAt) / 1000,
              sourceDossiers: findings.reduce((sum, one) => sum + one.sourceDossiers, 0),
            }),
          );
          startedAt = Date.now();
          requestsBefore = this.options.requests();
          recordsBefore = this.records;
          scopesBefore = this.scopes;
          this.report(end, after);
          if (after?.status !== 'running') return 'stopped';
        }
      } catch (error) {
        if (!signal?.aborted) throw error;
        interrupted = true;
      }
      if (interrupted || signal?.aborted) break;
      this.prefetched = null;
    }
    if (signal?.aborted) return 'interrupted';
    if ((await this.status()) !== 'running') return 'stopped';
    // What only we had, and no later bucket showed the source has, is what the source no longer has.
    await this.phases.time('bookkeeping', () =>
      db.transaction().execute(async (trx) => {
        const gone = await confirmProvisional(trx, runId);
        await insertAnomalies(
          trx,
          gone.map((row) => this.disappeared(row.dossier_code, row.stored_version, row.stored_status)),
        );
        await settleRun(trx, runId);
      }),
    );
    return 'done';
  }

  private async status(): Promise<ReconcileStatus> {
    return (await findReconcileRun(this.options.db, this.options.runId))?.status ?? 'cancelled';
  }

  private report(bucketsDone: number, stored: { mismatches: number; repaired: number } | null): void {
    this.counts.bucketsDone = bucketsDone;
    if (stored) {
      this.counts.mismatches = stored.mismatches;
      this.counts.repaired = stored.repaired;
    }
    this.counts.requests = this.options.requests();
    this.counts.records = this.records;
    this.options.onProgress?.(this.counts);
  }

  /**
   * Buckets [first, last) compared breadth-first by the source's multi-scope summaries, then the current records of
   * every dossier the pass found differing fetched by code at once (large batches, not one fetch per bucket).
   */
  private async comparePass(first: number, last: number): Promise<Findings[]> {
    const drill = new BreadthFirstDrill({
      db: this.options.db,
      provinceCode: this.options.provinceCode,
      summarise: (scopes, kind) =>
        this.source(() => this.options.connector.summariseMany!(scopes, kind, this.options.signal)),
      comparePages: async (scope, findings) => {
        await this.comparePages(scope, findings);
      },
      leafSize: this.options.multiLeafSize,
      scopesPerRequest: this.options.connector.summaryScopesPerRequest,
      phases: this.phases,
    });
    const buckets = [];
    for (let index = first; index < last; index++) buckets.push(bucketAt(this.options.range, index));
    const scopesBefore = drill.scopes;
    const found = await drill.compare(buckets);
    this.scopes += drill.scopes - scopesBefore;
    const codes = new Set<string>();
    for (const findings of found) {
      for (const [code, side] of findings.source) if (side.record === null) codes.add(code);
      for (const code of findings.oursOnly) codes.add(code);
    }
    const settled = await this.phases.time('mismatches', () => this.settledCodes([...codes]));
    const wanted = [...codes].filter((code) => !settled.has(code));
    const records = await this.phases.time('source.fetch', () => this.fetch(wanted));
    this.prefetched = { asked: new Set(wanted), records };
    return found;
  }

  /** A bucket compared the way the source allows: by its summaries, or page by page. */
  private async compareBucket(bucket: TimeWindow): Promise<Findings> {
    const findings = emptyFindings();
    const scope: SummaryScope = { updatedFrom: bucket.from, updatedTo: bucket.to, codeFrom: null, codeTo: null };
    if (this.options.method === 'pages') await this.comparePagesSplit(scope, findings);
    else await this.drill(scope, findings);
    return findings;
  }

  private source<T>(call: () => Promise<T>): Promise<T> {
    return this.options.call(call, this.options.signal);
  }

  /**
   * Compares a scope by the source's summary: equal digests end it; a listing names the differing dossiers; a
   * differing digest is split (by time in halves down to a second, then by code at our median) until it is small
   * enough to read page by page. A scope holding more of our dossiers than a listing may is split before asking.
   */
  private async drill(scope: SummaryScope, findings: Findings): Promise<void> {
    const { db, provinceCode } = this.options;
    if (this.options.method === 'listing') {
      const ours = await storedCount(db, provinceCode, scope);
      if (ours > this.listingLimit && this.canSplit(scope, ours))
        return this.split(scope, ours, findings, (part) => this.drill(part, findings));
      let summary: SourceSummary;
      try {
        summary = await this.summarise(scope);
      } catch (error) {
        // A listing the source finds too large (it holds more than we do): narrower scopes.
        if (error instanceof SourceError && !error.transient && error.status === 400 && this.canSplit(scope, ours))
          return this.split(scope, ours, findings, (part) => this.drill(part, findings));
        throw error;
      }
      findings.sourceDossiers += dossiersIn(summary);
      return this.compareSummary(scope, summary, findings);
    }
    // Only a whole bucket reaches here (drillDigest compares the parts it cuts): its count is what the source holds.
    const summary = await this.summarise(scope);
    findings.sourceDossiers += dossiersIn(summary);
    return this.compareSummary(scope, summary, findings);
  }

  /**
   * Compares the source's summary of a scope with our copy: a listing entry by entry, a digest by count and hash
   * (`ours`: our digest when already computed), drilling into a digest that differs.
   */
  private async compareSummary(
    scope: SummaryScope,
    summary: SourceSummary,
    findings: Findings,
    ours?: { count: number; hash: string },
  ): Promise<void> {
    const { db, provinceCode } = this.options;
    if (summary.kind === 'listing') {
      compareListing(summary.entries, await storedEntries(db, provinceCode, scope), findings);
      return;
    }
    const mine = ours ?? (await storedDigest(db, provinceCode, scope));
    if (mine.count === summary.count && mine.hash === summary.hash) return;
    await this.drillDigest(scope, Math.max(mine.count, summary.count), findings);
  }

  private async summarise(scope: SummaryScope): Promise<SourceSummary> {
    const summary = await this.source(() => this.options.connector.summarise!(scope, this.options.signal));
    this.scopes += 1;
    return summary;
  }

  /**
   * A scope whose digests differ (`size`: the larger count): small enough, or a few seconds long, it is read page by
   * page; else cut into `fanOut` slices of whole seconds, our digests of all of them computed in one scan, each
   * compared with the source's, and those that differ drilled into the same way.
   */
  private async drillDigest(scope: SummaryScope, size: number, findings: Findings): Promise<void> {
    const { db, provinceCode } = this.options;
    const from = scope.updatedFrom.getTime();
    const to = scope.updatedTo.getTime();
    const step = Math.max(minWindowMs, Math.ceil((to - from) / fanOut / 1000) * 1000);
    if (size <= this.leafSize || to - from <= fanOut * minWindowMs) {
      await this.comparePages(scope, findings);
      return;
    }
    const ours = await storedDigestsBySlice(db, provinceCode, scope, step);
    for (let slice = 0; from + slice * step < to; slice++) {
      const part: SummaryScope = {
        ...scope,
        updatedFrom: new Date(from + slice * step),
        updatedTo: new Date(Math.min(from + (slice + 1) * step, to)),
      };
      const mine = ours.get(slice) ?? { count: 0, hash: '0000000000000000' };
      await this.compareSummary(part, await this.summarise(part), findings, mine);
    }
  }

  private canSplit(scope: SummaryScope, ours: number): boolean {
    return scope.updatedTo.getTime() - scope.updatedFrom.getTime() > minWindowMs || ours >= 2;
  }

  /** Halves a scope: by time (on whole seconds) while longer than a second, then by code at our median. */
  private async split(
    scope: SummaryScope,
    ours: number,
    findings: Findings,
    each: (part: SummaryScope) => Promise<void>,
  ): Promise<void> {
    const from = scope.updatedFrom.getTime();
    const to = scope.updatedTo.getTime();
    if (to - from > minWindowMs) {
      const middle = Math.floor((from + (to - from) / 2) / 1000) * 1000;
      const cut = middle <= from ? from + minWindowMs : middle;
      await each({ ...scope, updatedTo: new Date(cut) });
      await each({ ...scope, updatedFrom: new Date(cut) });
      return;
    }
    const median = await storedMedianCode(this.options.db, this.options.provinceCode, scope, ours);
    if (median === null || median === scope.codeFrom) {
      void findings;
      throw new SourceError(
        `connector ${this.options.connectorId}: the source cannot list the scope ${scope.updatedFrom.toISOString()} to ${scope.updatedTo.toISOString()} and it cannot be narrowed by our codes`,
        false,
      );
    }
    await each({ ...scope, codeTo: median });
    await each({ ...scope, codeFrom: median });
  }

  /** A window compared page by page, split first so that it holds at most `pageWindowLimit` of our dossiers. */
  private async comparePagesSplit(scope: SummaryScope, findings: Findings): Promise<void> {
    const ours = await storedCount(this.options.db, this.options.provinceCode, scope);
    if (ours > this.pageWindowLimit && scope.updatedTo.getTime() - scope.updatedFrom.getTime() > minWindowMs) {
      const from = scope.updatedFrom.getTime();
      const to = scope.updatedTo.getTime();
      const cut = Math.max(from + minWindowMs, Math.floor((from + (to - from) / 2) / 1000) * 1000);
      await this.comparePagesSplit({ ...scope, updatedTo: new Date(cut) }, findings);
      await this.comparePagesSplit({ ...scope, updatedFrom: new Date(cut) }, findings);
      return;
    }
    // Page by page, the source's side of the window is the dossiers its pages held.
    findings.sourceDossiers += await this.comparePages(scope, findings);
  }

  /**
   * Reads a time window's pages (readWindow) and compares each page with our rows of its codes; what we hold in
   * the window that no page had is ours only. Memory: the window's codes, never more than one page's records.
   * Returns how many dossiers the source's pages held.
   */
  private async comparePages(scope: SummaryScope, findings: Findings): Promise<number> {
    const { connector, db, provinceCode } = this.options;
    if (!connector.readWindow)
      throw new SourceError(`connector ${this.options.connectorId}: its source cannot be read by time window`, false);
    const window: TimeWindow = { from: scope.updatedFrom, to: scope.updatedTo };
    const seen = new Set<string>();
    let state: ReadState | null = null;
    this.scopes += 1;
    for (;;) {
      const from = state;
      const page: SourcePage = await this.source(() => connector.readWindow!(window, from, this.options.signal));
      this.records += page.items.length;
      const records = this.mapped(page.items);
      const stored = await storedByCode(
        db,
        provinceCode,
        records.map((record) => record.dossierCode),
      );
      for (const record of records) {
        seen.add(record.dossierCode);
        const mine = stored.get(record.dossierCode);
        if (mine && mine.sourceVersion === record.sourceVersion && mine.status === record.status) continue;
        findings.source.set(record.dossierCode, { entry: entryOf(record), record });
      }
      if (page.next === null) break;
      if (JSON.stringify(page.next) === JSON.stringify(state))
        throw new SourceError(
          `connector ${this.options.connectorId}: the next page of a window would repeat this one; check the pagination settings`,
          false,
        );
      state = page.next;
    }
    for (const entry of await storedEntries(db, provinceCode, scope))
      if (!seen.has(entry.dossierCode)) findings.oursOnly.add(entry.dossierCode);
    return seen.size;
  }

  private mapped(items: readonly unknown[]): DossierRecord[] {
    return mapItems(this.options.connector, items, {
      connectorId: this.options.connectorId,
      sourceProvinceCode: this.options.sourceProvinceCode,
      sourceCodeSet: this.options.sourceCodeSet,
      observedAt: new Date(),
    }).records;
  }

  /** Current source records of some dossiers by code (none when the connector cannot fetch by code). */
  private async fetch(codes: readonly string[]): Promise<Map<string, DossierRecord>> {
    const fetched = new Map<string, DossierRecord>();
    const { connector } = this.options;
    const prefetched = this.prefetched;
    const rest = prefetched ? codes.filter((code) => !prefetched.asked.has(code)) : codes;
    if (prefetched)
      for (const code of codes) {
        const record = prefetched.records.get(code);
        if (record) fetched.set(code, record);
      }
    if (rest.length === 0 || !connector.fetchDossiers) return fetched;
    const items = await this.source(() => connector.fetchDossiers!(rest, this.options.signal));
    this.records += items.length;
    for (const record of this.mapped(items)) fetched.set(record.dossierCode, record);
    return fetched;
  }

  /**
   * Names and classifies each differing dossier of a bucket against our stored state by code, records it once for
   * the run (with its anomaly: a version that went backwards, a dossier the source no longer has), and queues the
   * repairable ones to the writer: `committed` settles once the writer committed them (rejects if it did not).
   */
  private async resolve(findings: Findings): Promise<{ committed: Promise<void> }> {
    const { db, runId, provinceCode } = this.options;
    const all = [...findings.source.keys(), ...findings.oursOnly];
    if (all.length === 0) return { committed: Promise.resolve() };
    // A dossier already settled by this run (found in another bucket, or before a kill) is not handled again.
    const settled = await this.phases.time('mismatches', () => this.settledCodes(all));
    const canFetch = typeof this.options.connector.fetchDossiers === 'function';
    const oursOnly = [...findings.oursOnly].filter((code) => !settled.has(code) && !findings.source.has(code));
    const fetchedOurs = await this.fetch(oursOnly);
    const sides = new Map<string, SourceSide>();
    for (const [code, side] of findings.source) if (!settled.has(code)) sides.set(code, side);
    for (const [code, record] of fetchedOurs) sides.set(code, { entry: entryOf(record), record });
    const stored = await this.phases.time('mismatches', () =>
      storedByCode(db, provinceCode, [...sides.keys(), ...oursOnly]),
    );

    const mismatches: NewMismatch[] = [];
    for (const code of oursOnly) {
      if (sides.has(code)) continue;
      const mine = stored.get(code);
      if (!mine) continue;
      mismatches.push({
        dossierCode: code,
        kind: 'extra_here',
        storedVersion: mine.sourceVersion,
        storedStatus: mine.status,
        sourceVersion: null,
        sourceStatus: null,
        repairable: false,
        provisional: !canFetch,
      });
    }
    for (const [code, side] of sides) {
      const mine = stored.get(code);
      const theirs = side.entry;
      const kind = !mine
        ? 'missing_here'
        : mine.sourceVersion !== theirs.sourceVersion
          ? 'different_version'
          : mine.status !== theirs.status
            ? 'different_state'
            : null;
      // The same state in another time bucket only (the source moved it, or a race with the live sync): nothing.
      if (kind === null) continue;
      mismatches.push({
        dossierCode: code,
        kind,
        storedVersion: mine?.sourceVersion ?? null,
        storedStatus: mine?.status ?? null,
        sourceVersion: theirs.sourceVersion,
        sourceStatus: theirs.status,
        // The province is the record, but a version that went backwards is not written (the writer never goes back).
        repairable: !mine || theirs.sourceVersion >= mine.sourceVersion,
      });
    }
    const byCode = new Map(mismatches.map((mismatch) => [mismatch.dossierCode, mismatch]));
    await this.phases.time('mismatches', () =>
      db.transaction().execute(async (trx) => {
        const recorded = await recordMismatches(trx, runId, provinceCode, mismatches);
        const anomalies: NewAnomaly[] = [];
        for (const code of recorded) {
          const mismatch = byCode.get(code)!;
          if (mismatch.kind === 'extra_here') {
            // A provisional one is confirmed (and recorded as disappeared) at the end of the run.
            if (!mismatch.provisional)
              anomalies.push(this.disappeared(code, mismatch.storedVersion, mismatch.storedStatus));
          } else if (!mismatch.repairable)
            anomalies.push({
              provinceCode,
              dossierCode: code,
              connectorId: this.options.connectorId,
              kind: 'version_backwards',
              fromStatus: mismatch.storedStatus,
              toStatus: mismatch.sourceStatus,
              storedVersion: mismatch.storedVersion,
              sourceVersion: mismatch.sourceVersion,
              reconcileRunId: runId,
            });
        }
        await insertAnomalies(trx, anomalies);
      }),
    );

    const repairable = mismatches.filter((mismatch) => mismatch.repairable);
    const known = new Map<string, DossierRecord>();
    const toFetch: string[] = [];
    for (const mismatch of repairable) {
      const record = sides.get(mismatch.dossierCode)?.record ?? null;
      if (record) known.set(mismatch.dossierCode, record);
      else toFetch.push(mismatch.dossierCode);
    }
    for (const [code, record] of await this.phases.time('source.fetch', () => this.fetch(toFetch)))
      known.set(code, record);
    return { committed: this.queueRepair([...known.values()]) };
  }

  /** Codes this run recorded already and needs nothing more for (repaired, or not to repair), of those given. */
  private async settledCodes(codes: readonly string[]): Promise<Set<string>> {
    return settledCodes(this.options.db, this.options.runId, codes);
  }

  /**
   * The repair batches: the source's records, to the province's ingest queue, all queued at once; settles when the
   * writer committed every one (rejects if one is not committed).
   */
  private async queueRepair(records: DossierRecord[]): Promise<void> {
    if (records.length === 0) return;
    const timeout = this.options.commitTimeoutMs ?? 5 * 60_000;
    const commits: Promise<unknown>[] = [];
    for (let start = 0; start < records.length; start += 1000) {
      const batch: IngestBatch = {
        origin: 'poll',
        connectorId: this.options.connectorId,
        provinceCode: this.options.provinceCode,
        records: records.slice(start, start + 1000),
        deadLetters: [],
        reconcile: { runId: this.options.runId },
      };
      const committed = this.options.sink.addAndWait(batch, timeout);
      committed.catch(() => {});
      commits.push(committed);
    }
    await Promise.all(commits);
  }

  /** Repairs a killed process recorded but did not see settled: settled if committed, else fetched and queued again. */
  private async repairPending(): Promise<void> {
    const { db, runId } = this.options;
    await settleRun(db, runId);
    const pending = await db
      .selectFrom('reconcile_mismatches')
      .select('dossier_code')
      .where('run_id', '=', runId)
      .where('repairable', '=', true)
      .where('repaired', '=', false)
      .execute();
    if (pending.length === 0 || !this.options.connector.fetchDossiers) return;
    const fetched = await this.fetch(pending.map((row) => row.dossier_code));
    await this.queueRepair([...fetched.values()]);
    await settleRun(db, runId);
  }

  private disappeared(code: string, storedVersion: string | number | null, storedStatus: number | null): NewAnomaly {
    return {
      provinceCode: this.options.provinceCode,
      dossierCode: code,
      connectorId: this.options.connectorId,
      kind: 'disappeared',
      fromStatus: storedStatus,
      storedVersion,
      reconcileRunId: this.options.runId,
    };
  }
}

/** The findings of several buckets as one: a dossier only we hold in one and the source holds in another moved. */
function merged(all: readonly Findings[]): Findings {
  if (all.length === 1) return all[0]!;
  const into = emptyFindings();
  for (const findings of all) {
    into.sourceDossiers += findings.sourceDossiers;
    for (const [code, side] of findings.source) into.source.set(code, side);
    for (const code of findings.oursOnly) into.oursOnly.add(code);
  }
  return into;
}

function entryOf(record: DossierRecord): SummaryEntry {
  return { dossierCode: record.dossierCode, sourceVersion: record.sourceVersion, status: record.status };
}

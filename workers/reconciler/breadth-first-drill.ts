import type { Kysely } from 'kysely';
import type {
  SourceSummary,
  SummaryEntry,
  SummaryKind,
  SummaryScope,
  TimeWindow,
} from '../../connectors/sdk/connector.js';
import {
  hashText,
  storedEntriesIn,
  storedSliceDigests,
  type SlicedScope,
  type StoredDigest,
} from '../../db/queries/reconcile-copy.js';
import type { Database } from '../../db/schema.js';
import type { PhaseTimes } from './phase-times.js';
import { compareListing, emptyFindings, type Findings } from './reconcile-findings.js';

/** What a breadth-first drill-down needs. */
export interface BreadthFirstDrillOptions {
  db: Kysely<Database>;
  provinceCode: string;
  /** Asks the source for the summaries of many scopes (the connector's summariseMany, through the breaker). */
  summarise: (scopes: readonly SummaryScope[], kind: SummaryKind) => Promise<SourceSummary[]>;
  /** Compares a scope too large to list and too short to split page by page (readWindow), into its findings. */
  comparePages: (scope: SummaryScope, findings: Findings) => Promise<void>;
  /**
   * How many scopes one multi-scope request takes (the connector's `summaryScopesPerRequest`): each level cuts its
   * differing scopes into as many slices as fill one request, at least 2 and at most 256 each. Default 1,000.
   */
  scopesPerRequest?: number;
  /** A differing scope holding at most this many dossiers (the larger of the two sides) is listed. Default 64. */
  leafSize?: number;
  /** The most entries (the two sides' larger counts, summed) the listings of one request may hold. Default 40,000. */
  listingEntriesPerRequest?: number;
  /** Where the time goes (our digests and listings, the source's answers). */
  phases?: PhaseTimes;
}

/** A scope of the drill-down: its bucket, our digest, and our digests of its slices once computed. */
interface DrillNode {
  scope: SummaryScope;
  bucket: number;
  ours: StoredDigest;
  children: DrillNode[] | null;
}

/** A differing scope small enough to list, and how many entries its larger side holds. */
interface Leaf {
  node: DrillNode;
  size: number;
}

/** The smallest time slice: update times are compared to the second by some sources. */
const minWindowMs = 1000;
const zero: StoredDigest = { count: 0, sum: 0n };

/**
 * Compares many buckets with the source level by level, every scope of a level in one multi-scope request:
 * level 0 all the buckets; each level after it the slices of every scope that differed, as many slices each as
 * fill one request (`scopesPerRequest`): few differing scopes are cut finely, many coarsely; then one listing
 * request for all the differing leaves (more only past `listingEntriesPerRequest`). Our side of a level is one
 * SQL statement over the differing scopes (storedSliceDigests), each dossier of them read from the index once.
 * Memory: the differing scopes of a level with their slices, and the listings of one request.
 */
export class BreadthFirstDrill {
  /** Scopes compared so far (each scope of each request). */
  scopes = 0;
  private readonly scopesPerRequest: number;
  private readonly leafSize: number;
  private readonly listingEntriesPerRequest: number;

  constructor(private readonly options: BreadthFirstDrillOptions) {
    this.scopesPerRequest = options.scopesPerRequest ?? 1000;
    this.leafSize = options.leafSize ?? 64;
    this.listingEntriesPerRequest = options.listingEntriesPerRequest ?? 40_000;
  }

  /** How many slices each of `parents` scopes is cut into so that all their slices fill one request. */
  private fanOutFor(parents: number): number {
    return Math.max(2, Math.min(256, Math.floor(this.scopesPerRequest / Math.max(1, parents))));
  }

  /** The findings of each bucket, in the order given. */
  async compare(buckets: readonly TimeWindow[]): Promise<Findings[]> {
    const findings = buckets.map(() => emptyFindings());
    let frontier: DrillNode[] = buckets.map((bucket, index) => ({
      scope: { updatedFrom: bucket.from, updatedTo: bucket.to, codeFrom: null, codeTo: null },
      bucket: index,
      ours: zero,
      children: null,
    }));
    // Level 0's digests are the sums of its slices: one scan gives the buckets and their slices, cut so that the
    // slices of every bucket fill one request. Each level's question to the source needs only the scopes, so it is
    // asked while our side computes the digests it will be compared with: the source's answer and our statement
    // take about as long, and the run waits for the longer one instead of both.
    const first = this.cut(frontier, this.fanOutFor(frontier.length));
    let [theirs] = await Promise.all([
      this.ask(
        frontier.map((node) => node.scope),
        'digest',
      ),
      this.digest(first),
    ]);
    const leaves: Leaf[] = [];
    let level = 0;
    while (frontier.length > 0) {
      const splitting: DrillNode[] = [];
      for (const [position, node] of frontier.entries()) {
        const summary = theirs[position]!;
        if (summary.kind !== 'digest') throw new TypeError('a digest was asked for and a listing answered');
        // Level 0 is the whole buckets: the source's count of each is what it holds there.
        if (level === 0) findings[node.bucket]!.sourceDossiers += summary.count;
        if (summary.count === node.ours.count && summary.hash === hashText(node.ours.sum)) continue;
        const size = Math.max(summary.count, node.ours.count);
        if (size <= this.leafSize || !splittable(node.scope)) leaves.push({ node, size });
        else splitting.push(node);
      }
      const next = this.cut(
        splitting.filter((node) => node.children === null),
        this.fanOutFor(splitting.length),
      );
      frontier = splitting.flatMap((node) => node.children!);
      level += 1;
      if (frontier.length === 0) break;
      [theirs] = await Promise.all([
        this.ask(
          frontier.map((node) => node.scope),
          'digest',
        ),
        this.digest(next),
      ]);
    }
    await this.list(leaves, findings);
    return findings;
  }

  private time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    return this.options.phases ? this.options.phases.time(phase, work) : work();
  }

  /** Asks the source for the summaries of some scopes; counts them. */
  private async ask(scopes: readonly SummaryScope[], kind: SummaryKind): Promise<SourceSummary[]> {
    const summaries = await this.time(`source.${kind}s`, () => this.options.summarise(scopes, kind));
    this.scopes += scopes.length;
    return summaries;
  }

  /** Lists the leaves, a request's worth at a time, and diffs each listing with ours; a huge leaf page by page. */
  private async list(leaves: readonly Leaf[], findings: Findings[]): Promise<void> {
    let chunk: Leaf[] = [];
    let entries = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const scopes = chunk.map((leaf) => leaf.node.scope);
      // As with digests, the source lists while we do.
      const [theirs, ours] = await Promise.all([
        this.ask(scopes, 'listing'),
        this.time('ours.listings', () => storedEntriesIn(this.options.db, this.options.provinceCode, scopes)),
      ]);
      for (const [position, leaf] of chunk.entries()) {
        const summary = theirs[position]!;
        if (summary.kind !== 'listing') throw new TypeError('a listing was asked for and a digest answered');
        compareListing(summary.entries, ours[position] as SummaryEntry[], findings[leaf.node.bucket]!);
      }
      chunk = [];
      entries = 0;
    };
    for (const leaf of leaves) {
      if (leaf.size > this.listingEntriesPerRequest) {
        await this.options.comparePages(leaf.node.scope, findings[leaf.node.bucket]!);
        continue;
      }
      if (entries + leaf.size > this.listingEntriesPerRequest) await flush();
      chunk.push(leaf);
      entries += leaf.size;
    }
    await flush();
  }

  /** Cuts each node in `fanOut` slices: its children, their digests not yet computed (`digest`). */
  private cut(nodes: readonly DrillNode[], fanOut: number): { nodes: readonly DrillNode[]; sliced: SlicedScope[] } {
    const sliced = nodes.map((node) => ({
      scope: node.scope,
      stepMs: stepOf(node.scope.updatedTo.getTime() - node.scope.updatedFrom.getTime(), fanOut),
    }));
    for (const [position, node] of nodes.entries())
      node.children = parts(node.scope, sliced[position]!.stepMs).map((scope) => ({
        scope,
        bucket: node.bucket,
        ours: zero,
        children: null,
      }));
    return { nodes, sliced };
  }

  /**
   * Computes our digests of the cut nodes' slices in one statement (storedSliceDigests), and sets each child's
   * digest and each node's (the sum of its slices).
   */
  private async digest({ nodes, sliced }: { nodes: readonly DrillNode[]; sliced: SlicedScope[] }): Promise<void> {
    if (nodes.length === 0) return;
    const digests = await this.time('ours.digests', () =>
      storedSliceDigests(this.options.db, this.options.provinceCode, sliced),
    );
    for (const [position, node] of nodes.entries()) {
      for (const { slice, digest } of digests[position]!) node.children![slice]!.ours = digest;
      node.ours = node.children!.reduce((sum, child) => add(sum, child.ours), zero);
    }
  }
}

/** The slice length of a scope `length` ms long cut in `fanOut`: whole seconds, at least one. */
function stepOf(length: number, fanOut: number): number {
  return Math.max(minWindowMs, Math.ceil(length / fanOut / 1000) * 1000);
}

/** A scope cut into consecutive slices of `stepMs`, the last one clipped to its end. */
function parts(scope: SummaryScope, stepMs: number): SummaryScope[] {
  const from = scope.updatedFrom.getTime();
  const to = scope.updatedTo.getTime();
  const cut: SummaryScope[] = [];
  for (let start = from; start < to; start += stepMs)
    cut.push({ ...scope, updatedFrom: new Date(start), updatedTo: new Date(Math.min(start + stepMs, to)) });
  return cut;
}
function splittable(scope: SummaryScope): boolean {
  return scope.updatedTo.getTime() - scope.updatedFrom.getTime() > minWindowMs;
}

function add(a: StoredDigest, b: StoredDigest): StoredDigest {
  return { count: a.count + b.count, sum: (a.sum + b.sum) % (1n << 64n) };
}

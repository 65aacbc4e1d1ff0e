import type { z } from 'zod';
import type { CodeSet } from '../../config/provinces.js';
import type { DossierRecordInput } from './dossier-record.js';
import type { RequestGate } from './request-gate.js';

/** A JSON value: a cursor must survive a round trip through Postgres and a queue job. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Where a connector is in its source, as committed in Postgres: opaque to the framework, owned by the connector. */
export type Cursor = Json;

/**
 * How to read the next page within one poll run (a page number, an offset, a next link, a token): opaque to the
 * framework. It differs from the committed cursor for sources whose pages cannot be resumed across runs.
 */
export type ReadState = Json;

/** One page read from a province system. */
export interface SourcePage {
  /** The raw source records, mapped one by one through `map`. */
  items: unknown[];
  /** Where a later run may resume once this page is committed: stored with the page's records. */
  cursor: Cursor;
  /** How to read the following page in this run; null when the source has nothing more. */
  next: ReadState | null;
}

/** A canonical field and where a source record holds it. */
export interface FieldSource {
  /** The canonical field, e.g. `dossierCode`, `sourceUpdatedAt` (a key of DossierRecordInput). */
  field: string;
  /** Where a source record holds it: a dot-separated path of keys (`timeline.dueAt`), as `readPath` reads it. */
  path: string;
}

/**
 * The contract a connector implements (Kafka Connect / Airbyte style): its spec (the plugin's configSchema),
 * read and map. The framework does the rest — checking (workers/control-plane/check-connector.ts reads and maps one
 * page), scheduling, validation, dead letters, batching, storage. A connector never talks to Redis or Postgres.
 *
 * A connector says what its system can do by the members it has: `read` (with `startFrom` and
 * `compareCursors`) when the system can be read, `webhookItems` when it pushes. A system that only pushes has
 * no `read`: there is nothing to put in it, and an optional member (rather than a flag beside a `read` that
 * throws) makes every caller that reads narrow with `canRead` first. What to do with a connector that cannot be
 * read is the framework's to decide: the scheduler gives it no poll schedule, the poller leaves it alone, and
 * `check` maps a sample body instead of a page.
 */
export interface Connector {
  /** Reads one page (`from` null: the very beginning of the source). Absent: the system only pushes. */
  read?(from: ReadState | null, signal?: AbortSignal): Promise<SourcePage>;
  /**
   * Where a new poll run starts from the last committed cursor. A source with coarse update times re-reads a
   * look-back window here, because a change can land in a second (or minute) the cursor already passed.
   * Present exactly when `read` is.
   */
  startFrom?(committed: Cursor | null): ReadState | null;
  /**
   * Orders two cursors of this connector (negative, zero, positive): the committed cursor only moves forward.
   * Present exactly when `read` is.
   */
  compareCursors?(a: Cursor, b: Cursor): number;
  /** Maps one source record to the canonical form; throws MappingError for a record it cannot map. */
  map(item: unknown): DossierRecordInput;
  /**
   * The source paths `map` reads, one per canonical field it fills from the record (constants excluded). A dead
   * letter's raw payload keeps the values at these paths only (an allow-list: the canonical record holds no
   * personal data), and `check` warns for a path that no record of a page has.
   */
  mappedFields(): readonly FieldSource[];
  /**
   * The source records in a pushed (webhook) body, each then mapped by `map`. Absent: the connector's system
   * cannot push. Throws WebhookBodyError when the body has no records where the connector expects them.
   */
  webhookItems?(body: unknown): unknown[];
  /**
   * Reads one page of the source's history of one time window: the records whose update time lies in
   * [window.from, window.to), `from` null for the window's first page. Backfill walks a range window by window
   * with it, and a reconcile without summaries streams the source with it. Absent: the source cannot be read by
   * window (a push-only system, or one that only serves "updated since").
   */
  readWindow?(window: TimeWindow, from: ReadState | null, signal?: AbortSignal): Promise<SourcePage>;
  /**
   * Summarises the source's dossiers in a scope (see connectors/reconcile-summary.openapi.yaml, what a province
   * system may implement): a count and an order-independent hash, or a listing of (code, version, status).
   * Absent: the source offers no summaries, and a reconcile compares page by page (`readWindow`).
   */
  summarise?(scope: SummaryScope, signal?: AbortSignal): Promise<SourceSummary>;
  /**
   * Summarises many scopes at once — digests, or listings — one summary per scope in the order asked (the
   * multi-scope form of connectors/reconcile-summary.openapi.yaml): how a reconcile drills down breadth-first in a
   * few requests. The connector splits the scopes into the requests its source accepts. Absent: the source offers
   * the single-scope form only (`summarise`), or a kind of summary is refused by it (a SourceError).
   */
  summariseMany?(scopes: readonly SummaryScope[], kind: SummaryKind, signal?: AbortSignal): Promise<SourceSummary[]>;
  /** How many scopes one request of `summariseMany` takes: a reconcile sizes each level to fill one. Default 1,000. */
  readonly summaryScopesPerRequest?: number;
  /**
   * Reads the current source records of the named dossiers (any number: the connector splits them into the
   * requests its source accepts), each then mapped by `map`; a code the source no longer has is simply absent.
   * How a reconcile re-fetches exactly the dossiers that differ. Absent: a reconcile repairs by re-reading the
   * windows the differing dossiers are in.
   */
  fetchDossiers?(codes: readonly string[], signal?: AbortSignal): Promise<unknown[]>;
}

/** A half-open range of source update times, [from, to). */
export interface TimeWindow {
  from: Date;
  to: Date;
}

/**
 * A set of a province's dossiers to compare: those whose source update time lies in [updatedFrom, updatedTo),
 * narrowed to dossier codes in [codeFrom, codeTo) when drilling down (null: no bound). Buckets are by update time
 * because it is the one time every record has (receipt is missing until a dossier is received) and the axis
 * every source can be read by (backfill, page-by-page comparison).
 */
export interface SummaryScope {
  updatedFrom: Date;
  updatedTo: Date;
  codeFrom: string | null;
  codeTo: string | null;
}

/** What a summary of a scope is asked to be: a count and hash (`digest`), or the entries themselves (`listing`). */
export type SummaryKind = 'digest' | 'listing';

/** One dossier in a summary listing: its code, its version (sourceVersion) and its national status code. */
export interface SummaryEntry {
  dossierCode: string;
  sourceVersion: number;
  status: number;
}

/**
 * What a source says about a scope. `digest`: the count and `hash` — the sum modulo 2^64 of, for each dossier,
 * the first 8 bytes (big-endian) of SHA-256 of `<dossierCode>\n<sourceVersion>\n<status>` (version in decimal,
 * status the national code), as 16 lower-case hex digits; a sum, so the order of dossiers does not matter and a
 * repeat does not cancel out as it would in a XOR. `listing`: the entries themselves (a source that cannot hash),
 * for scopes small enough to list.
 */
export type SourceSummary =
  { kind: 'digest'; count: number; hash: string } | { kind: 'listing'; entries: SummaryEntry[] };

/** A connector whose system can be read: what a poll run and `check` of a page need. */
export type ReadableConnector = Connector & Required<Pick<Connector, 'read' | 'startFrom' | 'compareCursors'>>;

/** Whether the connector's system can be read (polled); false for one that only pushes. */
export function canRead(connector: Connector): connector is ReadableConnector {
  return (
    typeof connector.read === 'function' &&
    typeof connector.startFrom === 'function' &&
    typeof connector.compareCursors === 'function'
  );
}

/** A pushed body without records where the connector expects them; the message says where and what. */
export class WebhookBodyError extends Error {
  override readonly name = 'WebhookBodyError';
}

/**
 * The records of a pushed body in the common shape: one record (an object) or a list of them, at `path` in the
 * body (`$`: the body itself).
 */
export function itemsAt(
  body: unknown,
  path: string,
  readPath: (document: unknown, path: string) => unknown,
): unknown[] {
  const found = readPath(body, path);
  if (Array.isArray(found)) return found;
  if (found !== null && typeof found === 'object') return [found];
  const where = path === '$' ? 'the body' : `webhook.recordsPath "${path}"`;
  throw new WebhookBodyError(
    `${where}: expected one update (a JSON object) or a list of them, got ${found === undefined ? 'nothing' : found === null ? 'null' : typeof found}`,
  );
}

/** What a connector is registered with: its province and its own settings. */
export interface ConnectorSettings<Config> {
  /** Paces every request to the province system; the connector paces itself in-process when absent. */
  gate?: RequestGate;
  /** The connector's id, e.g. `hcm-rest`. */
  id: string;
  /** The province the connector belongs to, and the code set that code is in. */
  sourceProvinceCode: string;
  sourceCodeSet: CodeSet;
  /** The plugin's own configuration, validated against its `configSchema`. */
  config: Config;
}

/** A kind of connector, loaded by name. */
export interface ConnectorPlugin<Config = unknown> {
  /** The name a connector definition uses in `kind`. */
  kind: string;
  /** One line on what systems it speaks to. */
  description: string;
  /** The plugin's configuration (spec); validated before a connector is stored. */
  configSchema: z.ZodType<Config>;
  /** Builds a connector from validated settings. */
  create(settings: ConnectorSettings<Config>): Connector;
}

import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import {
  itemsAt,
  type Connector,
  type FieldSource,
  type ConnectorPlugin,
  type ConnectorSettings,
  type Cursor,
  type Json,
  type ReadState,
  type SourcePage,
  type TimeWindow,
  type SourceSummary,
  type SummaryKind,
  type SummaryScope,
} from '../sdk/connector.js';
import { formatVietnamTime, parseSourceDate } from '../sdk/dates.js';
import type { DossierRecordInput } from '../sdk/dossier-record.js';
import { isDossierStatus, type DossierStatus } from '../sdk/dossier-status.js';
import { MappingError } from '../sdk/mapping-error.js';
import { quoteSourceValue } from '../sdk/personal-data.js';
import type { RequestGate } from '../sdk/request-gate.js';
import {
  breakerSchema,
  defaultBreaker,
  defaultRateLimit,
  defaultRetry,
  rateLimitSchema,
  retrySchema,
} from '../sdk/source-policy.js';
import { RequestPacer } from '../sdk/request-pacer.js';
import { SourceError, toSourceError, withTransientStatuses } from '../sdk/source-error.js';
import { lazySecret, secretReference } from '../sdk/secrets.js';
import { compareWalks, nextWalk, walkFields, walkOf } from '../sdk/walk-cursor.js';

/**
 * Settings of a system that serves dossiers in the national portal's own field naming (`MaHoSo`,
 * `TrangThaiHoSo`, `NgayCapNhat`…) with an updated-since keyset cursor, as the province simulator does.
 */
export const nationalRestConfig = z
  .object({
    /** Base URL of the province system, e.g. http://127.0.0.1:9090. */
    baseUrl: z.url({ message: 'expected an http(s) URL' }),
    /** Where the API key sent as `X-Api-Key` is, `{env: NAME}` or `{file: /path}`; no key by default. */
    apiKey: secretReference.optional(),
    /** Records per page. Default 1000: a page is one ingest batch (limits.md: 1,000-2,000 rows per statement). */
    pageSize: z.number().int().min(1).max(5000).default(1000),
    /** Seconds re-read at the start of each poll run, for sources whose update times are coarse. Default 120. */
    lookbackSeconds: z.number().int().min(0).max(86_400).default(120),
    /** Request timeout. Default 10000 ms. */
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** Requests per second and in flight, across every poller. Default 5 per second, 1 at a time. */
    rateLimit: rateLimitSchema.default(defaultRateLimit),
    /** When its circuit breaker opens. */
    breaker: breakerSchema.default(defaultBreaker),
    /** Which failures are retried, and the retry budget. */
    retry: retrySchema.default(defaultRetry),
    /**
     * Whether the system offers the reconciliation endpoints of connectors/reconcile-summary.openapi.yaml
     * (`GET /api/dossiers/summary`, `GET /api/dossiers/by-code`), as the province simulator does. Default true;
     * false: a reconcile compares page by page and re-reads windows instead.
     */
    summaries: z.boolean({ error: 'expected true or false' }).default(true),
    /**
     * Scopes summarised in one `POST /api/dossiers/summaries` request (the multi-scope form), at most 5,000;
     * 0: the system offers the single-scope `GET /api/dossiers/summary` only. Default 5,000 (the contract's most).
     */
    summaryScopesPerRequest: z.number().int().min(0).max(5000).default(5000),
    /** Dossier codes asked for in one `GET /api/dossiers/by-code` request. Default 100, at most 200. */
    fetchBatchSize: z.number().int().min(1).max(200).default(100),
  })
  // A misspelt setting would otherwise be dropped in silence (an `apiKeyEnv` of old: no key sent, 401s).
  .strict();
export type NationalRestConfig = z.infer<typeof nationalRestConfig>;

/** A keyset: the update time (as the source writes it) and dossier code of a record. */
type NationalRestCursor = {
  updatedSince: string;
  afterCode: string | null;
};

/**
 * A walk's read state: the keyset to read after (none: the source's beginning), the newest keyset stored when
 * the page is committed (`stored`), and which walk it is (connectors/sdk/walk-cursor.ts).
 */
interface NationalRestReadState {
  [key: string]: Json;
  walk: number;
  pages: number;
  walkStartedAt: string | null;
  stored: Cursor;
}

const dateFormat = 'yyyyMMddHHmmss';

function isCursor(value: Cursor | null): value is Cursor & NationalRestCursor {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof value.updatedSince === 'string';
}

/** Orders two keysets by update time, then dossier code; a keyset without a code sits before every code of its time. */
function compareKeysets(a: Cursor | null, b: Cursor | null): number {
  if (!isCursor(a) || !isCursor(b)) return 0;
  if (a.updatedSince !== b.updatedSince) return a.updatedSince < b.updatedSince ? -1 : 1;
  if (a.afterCode === b.afterCode) return 0;
  if (a.afterCode === null) return -1;
  if (b.afterCode === null) return 1;
  return a.afterCode < b.afterCode ? -1 : 1;
}

/**
 * The keyset of the last record of a page that has one: a malformed record at the end of a page (a dead letter)
 * does not stop the walk; it is read again after the keyset, and kept once.
 */
function lastKeyset(items: unknown[]): NationalRestCursor | null {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as Record<string, unknown> | null;
    if (item && typeof item === 'object' && typeof item.NgayCapNhat === 'string' && typeof item.MaHoSo === 'string')
      return { updatedSince: item.NgayCapNhat, afterCode: item.MaHoSo };
  }
  return null;
}

function field(item: Record<string, unknown>, name: string): unknown {
  return item[name];
}

function optionalText(item: Record<string, unknown>, name: string, dossierCode: string): string | null {
  const value = field(item, name);
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new MappingError('bad_value', `${name}: expected text, got a ${typeof value}`, dossierCode);
}

function optionalNumber(item: Record<string, unknown>, name: string, dossierCode: string): number | null {
  const value = field(item, name);
  if (value === null || value === undefined || value === '') return null;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    throw new MappingError(
      'bad_value',
      `${name}: expected a whole number, got ${quoteSourceValue(value, name)}`,
      dossierCode,
    );
  }
  return number;
}

/** `TrangThaiHoSo` carries the national code itself, as text or number. */
function nationalStatus(value: unknown, dossierCode: string): DossierStatus {
  const code = typeof value === 'string' && /^\d{1,2}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (isDossierStatus(code)) return code;
  throw new MappingError(
    'unknown_status',
    `TrangThaiHoSo: ${quoteSourceValue(value, 'TrangThaiHoSo')} is not a national status code; expected 1 to 10`,
    dossierCode,
  );
}

/** Where `mapNationalRecord` reads each canonical field: the national portal's own names. */
export const nationalFieldSources: readonly FieldSource[] = [
  { field: 'dossierCode', path: 'MaHoSo' },
  { field: 'altDossierCode', path: 'MaHoSoKhac' },
  { field: 'provinceCode', path: 'MaTinh' },
  { field: 'procedureCode', path: 'MaTTHC' },
  { field: 'sectorCode', path: 'MaLinhVuc' },
  { field: 'agencyCode', path: 'DonViXuLy' },
  { field: 'channel', path: 'KenhThucHien' },
  { field: 'applicantType', path: 'LoaiDoiTuong' },
  { field: 'status', path: 'TrangThaiHoSo' },
  { field: 'submittedAt', path: 'NgayNopHoSo' },
  { field: 'receivedAt', path: 'NgayTiepNhan' },
  { field: 'dueAt', path: 'NgayHenTra' },
  { field: 'dueAt', path: 'NgayHenTraMoi' },
  { field: 'finishedAt', path: 'NgayKetThucXuLy' },
  { field: 'returnedAt', path: 'NgayTra' },
  { field: 'rejectedAt', path: 'NgayTuChoi' },
  { field: 'sourceUpdatedAt', path: 'NgayCapNhat' },
  { field: 'sourceVersion', path: 'PhienBan' },
];

/** Maps one record in the national portal's naming to the canonical form. */
export function mapNationalRecord(raw: unknown): DossierRecordInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MappingError(
      'malformed_record',
      `expected a JSON object for a dossier, got ${Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  }
  const item = raw as Record<string, unknown>;
  const code = field(item, 'MaHoSo');
  if (typeof code !== 'string' || code.trim() === '') {
    throw new MappingError('missing_field', 'MaHoSo: expected the dossier code, got none');
  }
  const dossierCode = code.trim();
  const date = (name: string) => {
    try {
      return parseSourceDate(field(item, name), name, dateFormat);
    } catch (error) {
      if (error instanceof MappingError) error.dossierCode = dossierCode;
      throw error;
    }
  };
  const sourceUpdatedAt = date('NgayCapNhat');
  if (!sourceUpdatedAt)
    throw new MappingError('missing_field', 'NgayCapNhat: expected the time of the last change, got none', dossierCode);
  const status = field(item, 'TrangThaiHoSo');
  // A moved due date (after a supplement request) replaces the first; both must still be dates.
  const firstDueAt = date('NgayHenTra');
  const movedDueAt = date('NgayHenTraMoi');
  return {
    dossierCode,
    altDossierCode: optionalText(item, 'MaHoSoKhac', dossierCode),
    provinceCode: optionalText(item, 'MaTinh', dossierCode),
    procedureCode: optionalText(item, 'MaTTHC', dossierCode),
    sectorCode: optionalText(item, 'MaLinhVuc', dossierCode),
    agencyCode: optionalText(item, 'DonViXuLy', dossierCode),
    channel: optionalNumber(item, 'KenhThucHien', dossierCode),
    applicantType: optionalNumber(item, 'LoaiDoiTuong', dossierCode),
    status: nationalStatus(status, dossierCode),
    sourceStatus: String(status),
    submittedAt: date('NgayNopHoSo'),
    receivedAt: date('NgayTiepNhan'),
    dueAt: movedDueAt ?? firstDueAt,
    finishedAt: date('NgayKetThucXuLy'),
    returnedAt: date('NgayTra'),
    rejectedAt: date('NgayTuChoi'),
    sourceUpdatedAt,
    sourceVersion: optionalNumber(item, 'PhienBan', dossierCode) ?? sourceUpdatedAt.getTime(),
  };
}

/** Reads one province's dossiers page by page, in (NgayCapNhat, MaHoSo) order. */
export class NationalRestConnector implements Connector {
  private readonly http: AxiosInstance;
  private readonly gate: RequestGate;
  private readonly apiKey: (() => string) | null;

  /** Present when the system offers summaries (`summaries`, default true): a digest of the scope. */
  readonly summarise?: (scope: SummaryScope, signal?: AbortSignal) => Promise<SourceSummary>;
  /** Present when the system offers the multi-scope form (`summaryScopesPerRequest` > 0): many scopes a request. */
  readonly summariseMany?: (
    scopes: readonly SummaryScope[],
    kind: SummaryKind,
    signal?: AbortSignal,
  ) => Promise<SourceSummary[]>;
  /** Present with `summariseMany`: how many scopes one of its requests takes (the config's). */
  readonly summaryScopesPerRequest?: number;
  /** Present when the system offers summaries: the current records of the codes, by-code requests in batches. */
  readonly fetchDossiers?: (codes: readonly string[], signal?: AbortSignal) => Promise<unknown[]>;

  constructor(private readonly settings: ConnectorSettings<NationalRestConfig>) {
    const { config } = settings;
    this.gate = settings.gate ?? new RequestPacer(config.rateLimit);
    this.apiKey = config.apiKey ? lazySecret(config.apiKey, `connector ${settings.id}: apiKey`) : null;
    this.http = axios.create({ baseURL: config.baseUrl, timeout: config.timeoutMs });
    // Members, not methods, so a system without the endpoints has no such member (connector.ts: absent = not offered).
    if (config.summaries) {
      this.summarise = (scope, signal) => this.digestOf(scope, signal);
      this.fetchDossiers = (codes, signal) => this.recordsOf(codes, signal);
      if (config.summaryScopesPerRequest > 0) {
        this.summariseMany = (scopes, kind, signal) => this.summariesOf(scopes, kind, signal);
        this.summaryScopesPerRequest = config.summaryScopesPerRequest;
      }
    }
  }

  /**
   * `POST /api/dossiers/summaries`, `summaryScopesPerRequest` scopes a request: one digest or listing per scope, in
   * the order asked (connectors/reconcile-summary.openapi.yaml).
   */
  private async summariesOf(
    scopes: readonly SummaryScope[],
    kind: SummaryKind,
    signal?: AbortSignal,
  ): Promise<SourceSummary[]> {
    const summaries: SourceSummary[] = [];
    const batch = this.settings.config.summaryScopesPerRequest;
    const path = '/api/dossiers/summaries';
    for (let from = 0; from < scopes.length; from += batch) {
      const asked = scopes.slice(from, from + batch);
      const body = {
        listing: kind === 'listing',
        scopes: asked.map((scope) => ({
          updatedFrom: scope.updatedFrom.toISOString(),
          updatedTo: scope.updatedTo.toISOString(),
          ...(scope.codeFrom === null ? {} : { codeFrom: scope.codeFrom }),
          ...(scope.codeTo === null ? {} : { codeTo: scope.codeTo }),
        })),
      };
      const answer = (await this.post(path, { province: this.settings.sourceProvinceCode }, body, signal)) as {
        summaries?: unknown;
      } | null;
      const found = answer?.summaries;
      if (!Array.isArray(found) || found.length !== asked.length)
        throw new SourceError(
          `connector ${this.settings.id}: POST ${path} answered without one summary per scope; expected {"summaries": [...]} with ${asked.length} entries`,
          false,
        );
      for (const [position, summary] of found.entries())
        summaries.push(kind === 'digest' ? this.digestIn(summary, path) : this.listingIn(summary, path, position));
    }
    return summaries;
  }

  /** A digest as the contract writes it, or a SourceError saying what was expected. */
  private digestIn(body: unknown, path: string): SourceSummary {
    const { count, hash } = (body ?? {}) as { count?: unknown; hash?: unknown };
    if (
      typeof count !== 'number' ||
      !Number.isSafeInteger(count) ||
      count < 0 ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{16}$/.test(hash)
    ) {
      throw new SourceError(
        `connector ${this.settings.id}: ${path} answered without a digest; expected {"count": a whole number, "hash": 16 lower-case hex digits}`,
        false,
      );
    }
    return { kind: 'digest', count, hash };
  }

  /** A listing as the contract writes it, or a SourceError naming the scope and the entry. */
  private listingIn(body: unknown, path: string, position: number): SourceSummary {
    const entries = (body as { entries?: unknown } | null)?.entries;
    const fail = (what: string) =>
      new SourceError(`connector ${this.settings.id}: ${path} summaries[${position}]: ${what}`, false);
    if (!Array.isArray(entries)) throw fail('expected a listing {"count": n, "entries": [...]}');
    return {
      kind: 'listing',
      entries: entries.map((entry: unknown, index) => {
        const { dossierCode, version, status } = (entry ?? {}) as Record<string, unknown>;
        if (
          typeof dossierCode !== 'string' ||
          dossierCode === '' ||
          typeof version !== 'number' ||
          !Number.isSafeInteger(version) ||
          typeof status !== 'number' ||
          !Number.isInteger(status)
        )
          throw fail(`entries[${index}]: expected {"dossierCode": text, "version": a whole number, "status": 1-10}`);
        return { dossierCode, sourceVersion: version, status };
      }),
    };
  }

  /** `GET /api/dossiers/summary`: the count and hash of the scope (connectors/reconcile-summary.openapi.yaml). */
  private async digestOf(scope: SummaryScope, signal?: AbortSignal): Promise<SourceSummary> {
    const params: Record<string, string> = {
      province: this.settings.sourceProvinceCode,
      updatedFrom: scope.updatedFrom.toISOString(),
      updatedTo: scope.updatedTo.toISOString(),
    };
    if (scope.codeFrom !== null) params.codeFrom = scope.codeFrom;
    if (scope.codeTo !== null) params.codeTo = scope.codeTo;
    const body = (await this.get('/api/dossiers/summary', params, signal)) as {
      count?: unknown;
      hash?: unknown;
    } | null;
    const count = body?.count;
    const hash = body?.hash;
    if (
      typeof count !== 'number' ||
      !Number.isSafeInteger(count) ||
      count < 0 ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{16}$/.test(hash)
    ) {
      throw new SourceError(
        `connector ${this.settings.id}: GET /api/dossiers/summary answered without a digest; expected {"count": a whole number, "hash": 16 lower-case hex digits}`,
        false,
      );
    }
    return { kind: 'digest', count, hash };
  }

  /** `GET /api/dossiers/by-code`, `fetchBatchSize` codes a request: the records the system still has. */
  private async recordsOf(codes: readonly string[], signal?: AbortSignal): Promise<unknown[]> {
    const listed = codes.find((code) => code.includes(','));
    if (listed !== undefined)
      throw new SourceError(
        `connector ${this.settings.id}: a dossier code with a comma cannot be asked for by code (codes are comma-separated)`,
        false,
      );
    const records: unknown[] = [];
    const batch = this.settings.config.fetchBatchSize;
    for (let from = 0; from < codes.length; from += batch) {
      const params = { province: this.settings.sourceProvinceCode, codes: codes.slice(from, from + batch).join(',') };
      const body = (await this.get('/api/dossiers/by-code', params, signal)) as { items?: unknown } | null;
      if (!body || !Array.isArray(body.items)) {
        throw new SourceError(
          `connector ${this.settings.id}: GET /api/dossiers/by-code answered without an "items" array; expected {"items": [...]}`,
          false,
        );
      }
      records.push(...(body.items as unknown[]));
    }
    return records;
  }

  /** One POST of a JSON body through the gate, with the API key; failures as SourceErrors, as a GET's. */
  private async post(
    path: string,
    params: Record<string, string>,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const headers = this.apiKey ? { 'X-Api-Key': this.apiKey() } : {};
    try {
      return (await this.gate.run(() => this.http.post(path, body, { params, headers, signal }))).data;
    } catch (error) {
      throw withTransientStatuses(
        toSourceError(error, `connector ${this.settings.id}: POST ${path}`),
        this.settings.config.retry.transientStatusCodes,
      );
    }
  }

  /** One GET through the gate, with the API key; failures as SourceErrors classified by the retry settings. */
  private async get(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
    const headers = this.apiKey ? { 'X-Api-Key': this.apiKey() } : {};
    try {
      return (await this.gate.run(() => this.http.get(path, { params, headers, signal }))).data;
    } catch (error) {
      throw withTransientStatuses(
        toSourceError(error, `connector ${this.settings.id}: GET ${path}`),
        this.settings.config.retry.transientStatusCodes,
      );
    }
  }

  /**
   * A cursor saved mid-walk carries the walk on after the last record committed, exactly: re-reading the
   * look-back window there would read a backlog of more records in that window than one run reads (a bulk
   * change stamped in one minute) again from its start on every run, and never pass it. Any other cursor begins
   * a new walk, rewound by the look-back window to the start of that second.
   */
  startFrom(committed: Cursor | null): ReadState {
    const { resume, walk, pages, walkStartedAt } = walkOf(committed);
    const stored = isCursor(committed)
      ? { updatedSince: committed.updatedSince, afterCode: committed.afterCode }
      : null;
    if (isCursor(resume)) {
      const carried: NationalRestReadState = {
        updatedSince: resume.updatedSince,
        afterCode: resume.afterCode,
        walk,
        pages,
        walkStartedAt,
        stored,
      };
      return carried;
    }
    const state: NationalRestReadState = { ...this.rewound(stored), ...nextWalk(committed), stored };
    return state;
  }

  /** The keyset a new walk starts after: the stored one rewound by the look-back, without its code. */
  private rewound(stored: NationalRestCursor | null): NationalRestCursor | Record<string, never> {
    if (!stored) return {};
    try {
      const since = parseSourceDate(stored.updatedSince, 'updatedSince', dateFormat);
      if (!since) return {};
      return {
        updatedSince: formatVietnamTime(new Date(since.getTime() - this.settings.config.lookbackSeconds * 1000)),
        afterCode: null,
      };
    } catch {
      return { updatedSince: stored.updatedSince, afterCode: null };
    }
  }

  /**
   * Walk first (connectors/sdk/walk-cursor.ts); then, for keysets stored before walks were counted, by update
   * time, then dossier code, a keyset without a code before every code of its time.
   */
  compareCursors(a: Cursor, b: Cursor): number {
    return compareWalks(a, b) || compareKeysets(a, b);
  }

  /**
   * Reads the page after the state's keyset. The page's cursor holds the newest keyset stored (the walk's next
   * one starts from it) and, while the source has more, the keyset of its last record to carry the walk on at.
   */
  async read(from: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    const position = isCursor(from) ? from : null;
    const params: Record<string, string | number> = {
      province: this.settings.sourceProvinceCode,
      limit: this.settings.config.pageSize,
    };
    if (position) {
      params.updatedSince = position.updatedSince;
      if (position.afterCode !== null) params.afterCode = position.afterCode;
    }
    const { items, hasMore, read } = await this.fetchPage(params, signal);
    const walk = walkOf(from);
    // A read state of a walk says what is stored; a bare keyset (a cursor of old) is itself the stored one.
    const before: NationalRestCursor | null =
      from !== null && typeof from === 'object' && !Array.isArray(from) && 'stored' in from
        ? isCursor(from.stored)
          ? from.stored
          : null
        : position;
    const newest = read && (!before || compareKeysets(read, before) > 0) ? read : before;
    const stored: NationalRestCursor | null = newest
      ? { updatedSince: newest.updatedSince, afterCode: newest.afterCode }
      : null;
    const resume = hasMore && read !== null ? read : null;
    const cursor: Cursor = { ...stored, ...walkFields(walk, resume) };
    const next: NationalRestReadState | null = resume
      ? { ...resume, walk: walk.walk, pages: walk.pages + 1, walkStartedAt: walk.walkStartedAt, stored }
      : null;
    return { items, cursor, next };
  }

  /**
   * Reads one page of a time window: the keyset walk of `read`, bounded by `updatedBefore`. The read state is the
   * keyset of the last record read (null: the window's start); the page's cursor is the same keyset, for a caller
   * that keeps its place in the window.
   */
  async readWindow(window: TimeWindow, from: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    const position = isCursor(from) ? from : null;
    const params: Record<string, string | number> = {
      province: this.settings.sourceProvinceCode,
      limit: this.settings.config.pageSize,
      updatedSince: position?.updatedSince ?? formatVietnamTime(window.from),
      // The dialect's times are whole seconds: a window's end inside a second is read up to that second's end.
      updatedBefore: formatVietnamTime(new Date(Math.ceil(window.to.getTime() / 1000) * 1000)),
    };
    if (position?.afterCode) params.afterCode = position.afterCode;
    const { items, hasMore, read } = await this.fetchPage(params, signal);
    const next: NationalRestCursor | null = hasMore && read !== null ? read : null;
    return { items, cursor: next ?? position, next };
  }

  /** Sends one `GET /api/dossiers` and checks the page's shape: its records, whether more follow, its last keyset. */
  private async fetchPage(
    params: Record<string, string | number>,
    signal: AbortSignal | undefined,
  ): Promise<{ items: unknown[]; hasMore: boolean; read: NationalRestCursor | null }> {
    const headers = this.apiKey ? { 'X-Api-Key': this.apiKey() } : {};
    let body: unknown;
    try {
      body = (await this.gate.run(() => this.http.get('/api/dossiers', { params, headers, signal }))).data;
    } catch (error) {
      throw withTransientStatuses(
        toSourceError(error, `connector ${this.settings.id}: GET /api/dossiers`),
        this.settings.config.retry.transientStatusCodes,
      );
    }
    const page = body as { items?: unknown; hasMore?: unknown } | null;
    if (!page || !Array.isArray(page.items)) {
      throw new SourceError(
        `connector ${this.settings.id}: GET /api/dossiers answered without an "items" array; expected {"items": [...], "hasMore": boolean}`,
        false,
      );
    }
    const items: unknown[] = page.items;
    const read = lastKeyset(items);
    if (page.hasMore === true && items.length > 0 && read === null) {
      // Nothing on this page to page on from: ending the walk here would leave the rest of the source unread.
      throw new SourceError(
        `connector ${this.settings.id}: GET /api/dossiers answered a page with more after it, but no record of it has NgayCapNhat and MaHoSo as text to read on from`,
        false,
      );
    }
    return { items, hasMore: page.hasMore === true, read };
  }

  map(item: unknown): DossierRecordInput {
    return mapNationalRecord(item);
  }

  mappedFields(): readonly FieldSource[] {
    return nationalFieldSources;
  }

  /** Systems in the national naming push the same records they serve: one, or a list. */
  webhookItems(body: unknown): unknown[] {
    return itemsAt(body, '$', (document) => document);
  }
}

/** The plugin: loaded by the name `national-rest`. */
export const nationalRestPlugin: ConnectorPlugin<NationalRestConfig> = {
  kind: 'national-rest',
  description:
    'REST/JSON system with the national portal field naming and an updated-since keyset cursor (the province simulator)',
  configSchema: nationalRestConfig as z.ZodType<NationalRestConfig>,
  create: (settings) => new NationalRestConnector(settings),
};

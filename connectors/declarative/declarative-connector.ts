import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import {
  itemsAt,
  type Connector,
  type FieldSource,
  type ConnectorPlugin,
  type ConnectorSettings,
  type Cursor,
  type ReadState,
  type SourcePage,
  type TimeWindow,
  type SourceSummary,
  type SummaryKind,
  type SummaryScope,
} from '../sdk/connector.js';
import { DatePattern } from '../sdk/date-pattern.js';
import { parseSourceDate } from '../sdk/dates.js';
import type { DossierRecordInput } from '../sdk/dossier-record.js';
import { compareSinceCursors, sinceOf } from '../sdk/since-cursor.js';
import { compareWalks, nextWalk, walkFields, walkOf } from '../sdk/walk-cursor.js';
import { SourceError, toSourceError, withTransientStatuses } from '../sdk/source-error.js';
import { declarativeSections, isPushOnly, type DeclarativeConfig, type PushOnlyConfig } from './declarative-config.js';
import { readPath } from './json-path.js';
import { PushOnlyConnector } from './push-only-connector.js';
import { ReconcileRequests } from './reconcile-requests.js';
import { RecordMapper, offsetOf } from './record-mapper.js';
import { createRequestAuth, type RequestAuth } from './request-auth.js';
import { RequestPacer } from '../sdk/request-pacer.js';
import type { RequestGate } from '../sdk/request-gate.js';
import { renderJson, renderTemplate, type TemplateValues } from './templates.js';

/**
 * Where a walk is: its since-filter and window, its place in the pagination, the newest update time seen, and
 * which walk it is (connectors/sdk/walk-cursor.ts). Mid-walk, a page's cursor keeps the position of the page after
 * it, so a later run carries the walk on from there.
 */
interface DeclarativeReadState {
  [key: string]: string | number | null;
  /** The since-filter of the current window or run (ISO instant), null for the source's beginning. */
  since: string | null;
  /** End of the current time window (ISO instant), when the definition reads in windows. */
  windowEnd: string | null;
  /** Page number, or records skipped for offset pagination. */
  page: number;
  token: string | null;
  nextUrl: string | null;
  /** The since-part committed when the walk began: what an unsorted source's cursor keeps until the walk ends. */
  committed: string | null;
  /** The newest update time seen in this walk. */
  newest: string | null;
  /** The walk's number, pages of it read before this one, when it began (WalkPosition). */
  walk: number;
  pages: number;
  walkStartedAt: string | null;
}

/** The parts of a RunState a page's cursor keeps to resume the walk at, with the definition they belong to. */
const resumeKeys = ['since', 'windowEnd', 'page', 'token', 'nextUrl', 'newest'] as const;

/** JSON with the keys of every object sorted, so equal settings give equal text whatever order they were stored in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);

function linkHeaderNext(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (match) return match[1]!;
  }
  return null;
}

/** Why `records.path` found no list: where the path stops, and what is there instead. */
function describeMiss(body: unknown, path: string): string {
  const keysOf = (value: unknown) =>
    value !== null && typeof value === 'object' ? Object.keys(value).slice(0, 8).join(', ') || 'none' : null;
  let at: unknown = body;
  const walked: string[] = [];
  for (const key of path === '$' ? [] : path.split('.')) {
    const next = readPath(at, key);
    if (next === undefined) {
      const keys = keysOf(at);
      return `records.path "${path}" does not lead to a list in the response: ${walked.join('.') || 'the body'} has no "${key}"${keys ? ` (its keys: ${keys})` : ` (it is ${typeof at})`}`;
    }
    walked.push(key);
    at = next;
  }
  return `records.path "${path}" does not lead to a list in the response: it leads to ${at === null ? 'null' : Array.isArray(at) ? 'a list' : typeof at}`;
}

/**
 * A REST/JSON connector described entirely by a definition file: no code per vendor. It reads pages as the
 * definition's pagination says, from a since-filter on the update time, and maps each record through the
 * definition's fields and statuses.
 */
export class DeclarativeConnector implements Connector {
  private readonly http: AxiosInstance;
  private readonly auth: RequestAuth;
  private readonly pacer: RequestGate;
  private readonly mapper: RecordMapper;
  private readonly config: DeclarativeConfig;
  /** How each record's update time is read (`incremental.cursorFormat`), compiled once. */
  private readonly cursorPattern: DatePattern;
  /** How `{{cursor}}` and the window are written (`incremental.requestFormat`, default the cursor's), compiled once. */
  private readonly requestPattern: DatePattern;
  /** Minutes east of UTC of the times the source writes without an offset (`incremental.timezone`). */
  private readonly sourceOffset: number;
  /**
   * What a saved position means depends on the request and pagination it was read with: page 57 of pages of
   * 100 is not page 57 of pages of 500. A position saved under other settings is not resumed; a new walk begins.
   */
  private readonly walkSettings: string;
  /** One page of a time window; absent when the definition's request has no `{{windowStart}}` and `{{windowEnd}}`. */
  readonly readWindow?: (window: TimeWindow, from: ReadState | null, signal?: AbortSignal) => Promise<SourcePage>;
  /** Present when the definition has reconcile.summary (or summaries): a digest or a listing of the scope. */
  readonly summarise?: (scope: SummaryScope, signal?: AbortSignal) => Promise<SourceSummary>;
  /** Present when the definition has reconcile.summaries: the digests or listings of many scopes, in a few POSTs. */
  readonly summariseMany?: (
    scopes: readonly SummaryScope[],
    kind: SummaryKind,
    signal?: AbortSignal,
  ) => Promise<SourceSummary[]>;
  /** Present with `summariseMany`: the definition's reconcile.summaries.scopesPerRequest. */
  readonly summaryScopesPerRequest?: number;
  /** Present when the definition has reconcile.fetch: the current records of the codes. */
  readonly fetchDossiers?: (codes: readonly string[], signal?: AbortSignal) => Promise<unknown[]>;

  constructor(private readonly settings: ConnectorSettings<DeclarativeConfig>) {
    this.config = settings.config;
    const { http } = this.config;
    this.http = axios.create({
      baseURL: http.baseUrl,
      timeout: http.timeoutMs,
      headers: http.headers,
      httpsAgent: new Agent({
        rejectUnauthorized: http.tls.rejectUnauthorized,
        ...(http.tls.caFile ? { ca: readFileSync(http.tls.caFile) } : {}),
      }),
    });
    this.auth = createRequestAuth(this.config.auth, this.http, settings.id);
    this.http.interceptors.request.use(async (request) => {
      await this.auth.apply(request);
      return request;
    });
    this.pacer = settings.gate ?? new RequestPacer(this.config.rateLimit);
    this.mapper = new RecordMapper(this.config);
    const incremental = this.config.incremental;
    this.cursorPattern = DatePattern.compile(incremental?.cursorFormat ?? 'iso');
    this.requestPattern = incremental?.requestFormat
      ? DatePattern.compile(incremental.requestFormat)
      : this.cursorPattern;
    this.sourceOffset = offsetOf(incremental?.timezone);
    const { request, pagination } = this.config;
    const templates = JSON.stringify(request);
    if (incremental && templates.includes('{{windowEnd}}') && /\{\{(windowStart|cursor)\}\}/.test(templates))
      this.readWindow = (window, from, signal) => this.readTimeWindow(window, from, signal);
    // Members, not methods, so a definition without them has no such member (connector.ts: absent = not offered).
    const { summary, summaries, fetch } = this.config.reconcile ?? {};
    if (summary || summaries || fetch) {
      const requests = new ReconcileRequests({
        connectorId: settings.id,
        provinceCode: settings.sourceProvinceCode,
        http: this.http,
        gate: this.pacer,
        auth: this.auth,
        config: this.config,
        statusOf: (value) => this.mapper.statusOf(value),
      });
      if (summary) this.summarise = (scope, signal) => requests.summarise(summary, scope, signal);
      if (summaries) {
        const many = (scopes: readonly SummaryScope[], kind: SummaryKind, signal?: AbortSignal) =>
          requests.summariseMany(summaries, scopes, kind, signal);
        this.summariseMany = many;
        this.summaryScopesPerRequest = summaries.scopesPerRequest;
        // The multi-scope form alone serves one scope too.
        this.summarise ??= async (scope, signal) => (await many([scope], 'digest', signal))[0]!;
      }
      if (fetch) this.fetchDossiers = (codes, signal) => requests.fetchDossiers(fetch, codes, signal);
    }
    this.walkSettings = createHash('sha256')
      .update(canonicalJson({ baseUrl: http.baseUrl, request, pagination, incremental }))
      .digest('hex')
      .slice(0, 16);
  }

  private get pageSize(): number {
    const { pagination } = this.config;
    return pagination.type === 'none' ? 0 : pagination.pageSize;
  }

  private firstPage(): number {
    const { pagination } = this.config;
    return pagination.type === 'pageNumber' ? pagination.firstPage : 0;
  }

  /** The end of the window that starts at `since`: `windowHours` later, or now. */
  private windowEndFor(since: string | null): string | null {
    const hours = this.config.incremental?.windowHours;
    if (!hours) return null;
    const now = Date.now();
    const start = since === null ? now : Date.parse(since);
    return new Date(Math.min(now, start + hours * 3_600_000)).toISOString();
  }

  /**
   * A cursor saved mid-walk carries the walk on from its position, as the run that saved it would have; any other
   * (the last page of a walk, a `{since}` cursor stored before walks were saved, a position saved under other
   * settings) begins a new walk from the since-part, re-reading the look-back window.
   */
  startFrom(committed: Cursor | null): ReadState {
    const resumed = this.resumedWalk(committed);
    if (resumed) return resumed;
    const incremental = this.config.incremental;
    const committedSince = sinceOf(committed);
    let since: string | null = null;
    if (incremental && committedSince) {
      // Re-read the look-back window (an exclusive filter's one unit more is added where the time is written).
      since = new Date(Date.parse(committedSince) - incremental.lookbackSeconds * 1000).toISOString();
    } else if (incremental?.startDate) {
      since = (
        parseSourceDate(incremental.startDate, 'incremental.startDate', 'iso', offsetOf(incremental.timezone)) ??
        new Date(0)
      ).toISOString();
    }
    const state: DeclarativeReadState = {
      since,
      windowEnd: this.windowEndFor(since),
      page: this.firstPage(),
      token: null,
      nextUrl: null,
      committed: committedSince,
      newest: committedSince,
      ...nextWalk(committed),
    };
    return state;
  }

  /** The walk a mid-walk cursor saved, where it stopped; null when there is none to carry on. */
  private resumedWalk(committed: Cursor | null): DeclarativeReadState | null {
    const { resume, walk, pages, walkStartedAt } = walkOf(committed);
    if (!resume || resume.walkSettings !== this.walkSettings) return null;
    const text = (value: unknown) => value === null || typeof value === 'string';
    const { since, windowEnd, page, token, nextUrl, newest } = resume;
    if (![since, windowEnd, token, nextUrl, newest].every(text) || typeof page !== 'number') return null;
    return {
      since: since as string | null,
      windowEnd: windowEnd as string | null,
      page,
      token: token as string | null,
      nextUrl: nextUrl as string | null,
      // Mid-walk, the since-part of an unsorted source's cursor is still what was committed when the walk began.
      committed: sinceOf(committed),
      newest: newest as string | null,
      walk,
      pages,
      walkStartedAt,
    };
  }

  /** Walk first (connectors/sdk/walk-cursor.ts), then the since-part (cursors stored before walks were counted). */
  compareCursors(a: Cursor, b: Cursor): number {
    return compareWalks(a, b) || compareSinceCursors(a, b);
  }

  /** What a cursor keeps of the next page's state to resume the walk at it. */
  private resumeOf(next: DeclarativeReadState): { [key: string]: string | number | null } {
    const position: { [key: string]: string | number | null } = { walkSettings: this.walkSettings };
    for (const key of resumeKeys) position[key] = next[key];
    position.nextUrl = this.withoutQueryKey(next.nextUrl);
    return position;
  }

  /**
   * A next link that repeats an API key sent in the query would carry the key into the stored cursor (shown by
   * `fleet connector list`); the key is added to every request anyway, so it is left out of the saved link.
   */
  private withoutQueryKey(link: string | null): string | null {
    const { auth, http } = this.config;
    if (link === null || auth.type !== 'apiKey' || auth.in !== 'query') return link;
    const url = new URL(link, http.baseUrl);
    if (!url.searchParams.has(auth.name)) return link;
    url.searchParams.delete(auth.name);
    return url.toString();
  }

  /**
   * The placeholders' values. Times are written in the request format, which may be coarser than the instants
   * (minutes): a since-time is written truncated down to its unit, and for an exclusive filter (`>`) one unit
   * earlier, so the filter always includes the since-time itself; a window's end is written rounded up. Either
   * way a request asks for a little more than needed, never less: re-read records are exact repeats.
   */
  private templateValues(state: DeclarativeReadState): TemplateValues {
    const pattern = this.requestPattern;
    const exclusive = this.config.incremental?.inclusive === false;
    const since =
      state.since === null
        ? null
        : pattern.format(new Date(Date.parse(state.since) - (exclusive ? pattern.precisionMs : 0)), this.sourceOffset);
    const windowEnd =
      state.windowEnd === null
        ? null
        : pattern.format(pattern.ceil(new Date(state.windowEnd), this.sourceOffset), this.sourceOffset);
    return {
      province: this.settings.sourceProvinceCode,
      cursor: since,
      windowStart: since,
      windowEnd,
      page: state.page,
      offset: state.page,
      pageSize: this.pageSize || null,
      limit: this.pageSize || null,
      token: state.token,
    };
  }

  /**
   * Sends one request. A failure is classified transient or not by the definition's `retry` section; retrying
   * it is the fleet's (one policy for every connector). Only a refused OAuth2 token is renewed here, once.
   */
  private async send(state: DeclarativeReadState, signal?: AbortSignal): Promise<AxiosResponse> {
    const { request, retry } = this.config;
    const values = this.templateValues(state);
    const what = `connector ${this.settings.id}: ${state.nextUrl ? 'GET (next link)' : `${request.method} ${renderTemplate(request.path, values)}`}`;
    const params = Object.fromEntries(
      Object.entries(request.query)
        .map(([name, value]) => [name, renderTemplate(value, values)] as const)
        .filter(([, value]) => value !== ''),
    );
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, renderTemplate(value, values)]),
    );
    const attempt = () =>
      this.pacer.run(() =>
        state.nextUrl
          ? this.http.get(state.nextUrl, { signal })
          : this.http.request({
              url: renderTemplate(request.path, values),
              method: request.method,
              params,
              headers,
              data: request.body ? renderJson(request.body, values) : undefined,
              signal,
            }),
      );
    try {
      try {
        return await attempt();
      } catch (error) {
        if (toSourceError(error, what).status === 401 && this.auth.refresh()) return await attempt();
        throw error;
      }
    } catch (error) {
      throw withTransientStatuses(toSourceError(error, what), retry.transientStatusCodes);
    }
  }

  /**
   * Sends the request of a state and reads its records, and the state of the page after it in the same walk or
   * window (null: the pagination says there is none).
   */
  private async fetchPage(
    state: DeclarativeReadState,
    signal?: AbortSignal,
  ): Promise<{ items: unknown[]; next: DeclarativeReadState | null }> {
    // A missing secret is a configuration problem of ours, said as such, not a failed request.
    this.auth.loadSecrets();
    const response = await this.send(state, signal);
    const { records: recordsAt, pagination } = this.config;
    const items = readPath(response.data, recordsAt.path);
    if (!Array.isArray(items))
      throw new SourceError(`connector ${this.settings.id}: ${describeMiss(response.data, recordsAt.path)}`, false);
    let next: DeclarativeReadState | null = null;
    const full = this.pageSize > 0 && items.length >= this.pageSize;
    if (pagination.type === 'pageNumber' && full) next = { ...state, page: state.page + 1 };
    if (pagination.type === 'offset' && full) next = { ...state, page: state.page + items.length };
    if (pagination.type === 'cursorToken') {
      const token = readPath(response.data, pagination.path);
      if (typeof token === 'string' && token !== '' && items.length > 0)
        next = { ...state, token: this.unrepeated(token, state.token) };
    }
    if (pagination.type === 'nextLink') {
      const link =
        pagination.from === 'linkHeader'
          ? linkHeaderNext(response.headers.link)
          : readPath(response.data, pagination.path!);
      if (typeof link === 'string' && link !== '' && items.length > 0)
        next = { ...state, nextUrl: this.unrepeated(link, state.nextUrl) };
    }
    return { items, next };
  }

  /**
   * Reads one page of a time window through the definition's own window templates (`{{windowStart}}`,
   * `{{windowEnd}}`): the read state is the pagination's place in the window. A request written in a coarser format
   * than the window asks for a little more than it (see `templateValues`); the records outside it are left out,
   * so a window holds exactly the records whose update time lies in it (one whose time cannot be read is kept: it
   * becomes a dead letter through `map`). Present only for a definition whose request has both templates.
   */
  private async readTimeWindow(window: TimeWindow, from: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    const state: DeclarativeReadState = (from as DeclarativeReadState | null) ?? {
      since: window.from.toISOString(),
      windowEnd: window.to.toISOString(),
      page: this.firstPage(),
      token: null,
      nextUrl: null,
      committed: null,
      newest: null,
      walk: 0,
      pages: 0,
      walkStartedAt: null,
    };
    const { items, next } = await this.fetchPage(state, signal);
    const cursorField = this.config.incremental?.cursorField;
    const inWindow = (item: unknown) => {
      if (!cursorField) return true;
      try {
        const updated = this.cursorPattern.parse(readPath(item, cursorField), cursorField, this.sourceOffset);
        return !updated || (updated >= window.from && updated < window.to);
      } catch {
        return true;
      }
    };
    return { items: items.filter(inWindow), cursor: next, next };
  }

  async read(from: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    const state = (from as DeclarativeReadState | null) ?? (this.startFrom(null) as DeclarativeReadState);
    const { items, next: following } = await this.fetchPage(state, signal);
    const { incremental } = this.config;
    let next = following;

    let newest = state.newest;
    if (incremental) {
      for (const item of items) {
        try {
          const updated = this.cursorPattern.parse(
            readPath(item, incremental.cursorField),
            incremental.cursorField,
            this.sourceOffset,
          );
          if (updated) newest = later(newest, updated.toISOString());
        } catch {
          // The record becomes a dead letter through `map`; it moves no cursor.
        }
      }
    }

    if (next === null && state.windowEnd !== null && Date.parse(state.windowEnd) < Date.now() - 1000) {
      // This window is read to its end: everything before its end is seen. On to the next window.
      newest = later(newest, state.windowEnd);
      next = {
        ...state,
        since: state.windowEnd,
        windowEnd: this.windowEndFor(state.windowEnd),
        page: this.firstPage(),
        token: null,
        nextUrl: null,
      };
    }
    if (next) {
      next.newest = newest;
      next.pages = state.pages + 1;
    }

    // The since-part: every change before it (an ISO instant) is stored. A sorted source has stored everything
    // up to the newest time seen; an unsorted one only once the walk has read its last page — until then the
    // position in `resume` carries the walk on, and the newest time seen with it.
    const canResume = !incremental || incremental.sorted || next === null;
    const cursor: Cursor = {
      since: canResume ? newest : state.committed,
      ...walkFields(state, next ? this.resumeOf(next) : null),
    };
    return { items, cursor, next };
  }

  /**
   * The token or link to the next page, unless it is the one this page was read with: then the walk would never end.
   */
  private unrepeated(position: string, current: string | null): string {
    if (position === current) {
      throw new SourceError(
        `connector ${this.settings.id}: the source has more pages but the next request would repeat this one; check the pagination settings`,
        false,
      );
    }
    return position;
  }

  map(item: unknown): DossierRecordInput {
    return this.mapper.map(item);
  }

  mappedFields(): readonly FieldSource[] {
    return this.mapper.mappedFields();
  }

  /** A pushed body holds one update or a list, at `webhook.recordsPath` (default: the body itself). */
  webhookItems(body: unknown): unknown[] {
    return itemsAt(body, this.config.webhook?.recordsPath ?? '$', readPath);
  }
}

/** The plugin: a definition without `plugin` is of this kind, polled or (without http, request, records) push-only. */
export const declarativePlugin: ConnectorPlugin<DeclarativeConfig | PushOnlyConfig> = {
  kind: 'declarative',
  description: 'any REST/JSON system, described by a definition file (connectors/declarative/README.md)',
  configSchema: declarativeSections,
  create: ({ config, ...settings }) =>
    isPushOnly(config)
      ? new PushOnlyConnector({ ...settings, config })
      : new DeclarativeConnector({ ...settings, config }),
};

import type { AxiosInstance, AxiosResponse } from 'axios';
import type { SourceSummary, SummaryEntry, SummaryKind, SummaryScope } from '../sdk/connector.js';
import { DatePattern } from '../sdk/date-pattern.js';
import type { RequestGate } from '../sdk/request-gate.js';
import { SourceError, toSourceError, withTransientStatuses } from '../sdk/source-error.js';
import type { DeclarativeConfig } from './declarative-config.js';
import { readPath } from './json-path.js';
import { offsetOf } from './record-mapper.js';
import type { RequestAuth } from './request-auth.js';
import { renderJson, renderTemplate, type TemplateValues } from './templates.js';

type ReconcileSection = NonNullable<DeclarativeConfig['reconcile']>;
type SummarySection = NonNullable<ReconcileSection['summary']>;
type SummariesSection = NonNullable<ReconcileSection['summaries']>;
type DigestAnswer = SummariesSection['digest'];
type ListingAnswer = SummariesSection['listing'];
type FetchSection = NonNullable<ReconcileSection['fetch']>;
/** The two summary requests a definition may have: one scope a GET, or many scopes a POST. */
type SummaryForm = 'summary' | 'summaries';

/**
 * A listing entry's status the definition's statuses do not map. Not a national code (those are 1-10), so the
 * entry differs from anything stored and a drill-down names the dossier; its fetched record then becomes the
 * dead letter `unknown_status` that explains it.
 */
export const unmappedStatus = 0;

/** What the reconcile requests need of the connector: its HTTP client (auth applied), pacing and mapping. */
export interface ReconcileRequestContext {
  connectorId: string;
  provinceCode: string;
  http: AxiosInstance;
  gate: RequestGate;
  auth: RequestAuth;
  config: DeclarativeConfig;
  /** The national code of a vendor status, as `map` would give it; undefined when the definition does not map it. */
  statusOf(value: unknown): number | undefined;
}

/**
 * The declarative connector's `summarise`, `summariseMany` and `fetchDossiers`, as the definition's reconcile
 * section describes them: templated requests (a POST for many scopes), answers read by paths.
 */
export class ReconcileRequests {
  /** How each summary request present writes its bounds (its own dateFormat and timezone), compiled once. */
  private readonly bounds: Partial<Record<SummaryForm, (at: Date) => string>> = {};
  private readonly updatedAtPattern: DatePattern;
  private readonly sourceOffset: number;

  constructor(private readonly context: ReconcileRequestContext) {
    const { incremental, reconcile } = context.config;
    for (const form of ['summary', 'summaries'] as const) {
      const summary = reconcile?.[form];
      if (!summary) continue;
      const pattern = DatePattern.compile(
        summary.dateFormat ?? incremental?.requestFormat ?? incremental?.cursorFormat ?? 'iso',
      );
      const offset = offsetOf(summary.timezone ?? incremental?.timezone);
      // Rounded up to the format's unit: with update times of that precision [from, to) and [ceil(from), ceil(to))
      // hold the same dossiers.
      this.bounds[form] = (at) => pattern.format(pattern.ceil(at, offset), offset);
    }
    this.updatedAtPattern = DatePattern.compile(incremental?.cursorFormat ?? 'iso');
    this.sourceOffset = offsetOf(incremental?.timezone);
  }

  /** A scope's bounds as the summary request writes them. */
  private scopeValues(form: SummaryForm, scope: SummaryScope): TemplateValues {
    const bound = this.bounds[form]!;
    return {
      updatedFrom: bound(scope.updatedFrom),
      updatedTo: bound(scope.updatedTo),
      codeFrom: scope.codeFrom,
      codeTo: scope.codeTo,
    };
  }

  /** Summarises a scope, by the single-scope request. */
  async summarise(summary: SummarySection, scope: SummaryScope, signal?: AbortSignal): Promise<SourceSummary> {
    const values: TemplateValues = { province: this.context.provinceCode, ...this.scopeValues('summary', scope) };
    const body = (await this.send(summary, values, signal)).data;
    const where = `connector ${this.context.connectorId}: the summary answer`;
    return summary.digest ? this.digestIn(summary.digest, body, where) : this.listingIn(summary.listing!, body, where);
  }

  /**
   * Summarises many scopes, `scopesPerRequest` a POST: one digest or listing per scope, in the order asked. An
   * answer without one summary per scope is refused, naming what was expected.
   */
  async summariseMany(
    summaries: SummariesSection,
    scopes: readonly SummaryScope[],
    kind: SummaryKind,
    signal?: AbortSignal,
  ): Promise<SourceSummary[]> {
    const found: SourceSummary[] = [];
    for (let from = 0; from < scopes.length; from += summaries.scopesPerRequest) {
      const asked = scopes.slice(from, from + summaries.scopesPerRequest);
      const values: TemplateValues = { province: this.context.provinceCode, listing: String(kind === 'listing') };
      const written = asked.map((scope) => {
        const bounds = this.scopeValues('summaries', scope);
        return Object.fromEntries(
          Object.entries(summaries.scope)
            .map(([name, value]) => [name, renderTemplate(value, bounds)] as const)
            .filter(([, value]) => value !== ''),
        );
      });
      const body = renderJson(summaries.body, values, { scopes: written, listing: kind === 'listing' });
      const answer = (await this.send(summaries, values, signal, body)).data;
      const list = readPath(answer, summaries.summariesPath);
      const where = `connector ${this.context.connectorId}: the summaries answer`;
      if (!Array.isArray(list) || list.length !== asked.length)
        throw new SourceError(
          `${where}: ${summaries.summariesPath} is not a list of ${asked.length} summaries, one per scope asked`,
          false,
        );
      for (const [position, summary] of list.entries()) {
        const at = `${where}, summary ${from + position + 1}`;
        found.push(
          kind === 'digest'
            ? this.digestIn(summaries.digest, summary, at)
            : this.listingIn(summaries.listing, summary, at),
        );
      }
    }
    return found;
  }

  private digestIn(digest: DigestAnswer, body: unknown, where: string): SourceSummary {
    const count = readPath(body, digest.countPath);
    const hash = readPath(body, digest.hashPath);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
      throw new SourceError(`${where}: ${digest.countPath} is not a whole number of dossiers`, false);
    if (typeof hash !== 'string' || !/^[0-9a-fA-F]{16}$/.test(hash))
      throw new SourceError(`${where}: ${digest.hashPath} is not a hash of 16 hex digits`, false);
    return { kind: 'digest', count, hash: hash.toLowerCase() };
  }

  private listingIn(listing: ListingAnswer, body: unknown, where: string): SourceSummary {
    const entries = readPath(body, listing.entriesPath);
    if (!Array.isArray(entries))
      throw new SourceError(`${where}: ${listing.entriesPath} does not lead to a list of entries`, false);
    return { kind: 'listing', entries: entries.map((entry, position) => this.entryOf(listing, entry, position)) };
  }

  private entryOf(listing: ListingAnswer, entry: unknown, position: number): SummaryEntry {
    const where = `connector ${this.context.connectorId}: summary entry ${position + 1}`;
    const code = readPath(entry, listing.dossierCode);
    if (typeof code !== 'string' || code.trim() === '')
      throw new SourceError(`${where}: ${listing.dossierCode} is not a dossier code`, false);
    let sourceVersion: number;
    if (listing.sourceVersion !== undefined) {
      const raw = readPath(entry, listing.sourceVersion);
      const version = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)
        throw new SourceError(`${where}: ${listing.sourceVersion} is not a version (a whole number)`, false);
      sourceVersion = version;
    } else {
      let updated: Date | null;
      try {
        updated = this.updatedAtPattern.parse(
          readPath(entry, listing.updatedAt!),
          listing.updatedAt!,
          this.sourceOffset,
        );
      } catch {
        updated = null;
      }
      if (!updated)
        throw new SourceError(
          `${where}: ${listing.updatedAt} is not an update time in incremental.cursorFormat`,
          false,
        );
      sourceVersion = updated.getTime();
    }
    const status = this.context.statusOf(readPath(entry, listing.status)) ?? unmappedStatus;
    return { dossierCode: code.trim(), sourceVersion, status };
  }

  /** The current records of the codes, `batchSize` a request; a code the source no longer has is absent. */
  async fetchDossiers(fetch: FetchSection, codes: readonly string[], signal?: AbortSignal): Promise<unknown[]> {
    // Codes joined into text (a query, a path, a body string) cannot hold the separator; a body's '{{codes}}' list can.
    const joined =
      JSON.stringify([fetch.path, fetch.query, fetch.headers]) +
      JSON.stringify(fetch.body ?? null).replace(/"\{\{\s*codes\s*\}\}"/g, '');
    if (/\{\{\s*codes\s*\}\}/.test(joined) && codes.some((code) => code.includes(fetch.separator)))
      throw new SourceError(
        `connector ${this.context.connectorId}: a dossier code contains reconcile.fetch.separator ${JSON.stringify(fetch.separator)}, so it cannot be asked for by code`,
        false,
      );
    const records: unknown[] = [];
    for (let from = 0; from < codes.length; from += fetch.batchSize) {
      const batch = codes.slice(from, from + fetch.batchSize);
      const values = { province: this.context.provinceCode, codes: batch.join(fetch.separator) };
      const sent = fetch.method === 'POST' ? renderJson(fetch.body ?? {}, values, { codes: batch }) : undefined;
      const body = (await this.send(fetch, values, signal, sent)).data;
      const found = readPath(body, fetch.recordsPath);
      if (!Array.isArray(found))
        throw new SourceError(
          `connector ${this.context.connectorId}: the fetch answer: ${fetch.recordsPath} does not lead to a list of records`,
          false,
        );
      records.push(...(found as unknown[]));
    }
    return records;
  }

  /** One request, paced: a GET, or a POST of `body`; a refused OAuth2 token is renewed once; failures classified. */
  private async send(
    request: SummarySection | SummariesSection | FetchSection,
    values: TemplateValues,
    signal?: AbortSignal,
    body?: unknown,
  ): Promise<AxiosResponse> {
    const { http, gate, auth, config, connectorId } = this.context;
    auth.loadSecrets();
    const url = renderTemplate(request.path, values);
    const rendered = (templates: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(templates)
          .map(([name, value]) => [name, renderTemplate(value, values)] as const)
          .filter(([, value]) => value !== ''),
      );
    const options = { params: rendered(request.query), headers: rendered(request.headers), signal };
    const attempt = () => gate.run(() => (body === undefined ? http.get(url, options) : http.post(url, body, options)));
    const what = `connector ${connectorId}: ${body === undefined ? 'GET' : 'POST'} ${url}`;
    try {
      try {
        return await attempt();
      } catch (error) {
        if (toSourceError(error, what).status === 401 && auth.refresh()) return await attempt();
        throw error;
      }
    } catch (error) {
      throw withTransientStatuses(toSourceError(error, what), config.retry.transientStatusCodes);
    }
  }
}

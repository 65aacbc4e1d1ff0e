import type { AxiosInstance, AxiosResponse } from 'axios';
import type { SourceSummary, SummaryEntry, SummaryScope } from '../sdk/connector.js';
import { DatePattern } from '../sdk/date-pattern.js';
import type { RequestGate } from '../sdk/request-gate.js';
import { SourceError, toSourceError, withTransientStatuses } from '../sdk/source-error.js';
import type { DeclarativeConfig } from './declarative-config.js';
import { readPath } from './json-path.js';
import { offsetOf } from './record-mapper.js';
import type { RequestAuth } from './request-auth.js';
import { renderTemplate, type TemplateValues } from './templates.js';

type ReconcileSection = NonNullable<DeclarativeConfig['reconcile']>;
type SummarySection = NonNullable<ReconcileSection['summary']>;
type FetchSection = NonNullable<ReconcileSection['fetch']>;

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
 * The declarative connector's `summarise` and `fetchDossiers`, as the definition's reconcile section describes
 * them: templated GET requests, answers read by paths.
 */
export class ReconcileRequests {
  private readonly boundPattern: DatePattern;
  private readonly boundOffset: number;
  private readonly updatedAtPattern: DatePattern;
  private readonly sourceOffset: number;

  constructor(private readonly context: ReconcileRequestContext) {
    const { incremental, reconcile } = context.config;
    const summary = reconcile?.summary;
    this.boundPattern = DatePattern.compile(
      summary?.dateFormat ?? incremental?.requestFormat ?? incremental?.cursorFormat ?? 'iso',
    );
    this.boundOffset = offsetOf(summary?.timezone ?? incremental?.timezone);
    this.updatedAtPattern = DatePattern.compile(incremental?.cursorFormat ?? 'iso');
    this.sourceOffset = offsetOf(incremental?.timezone);
  }

  /**
   * Summarises a scope. Bounds are rounded up to the date format's unit: with update times of that precision
   * [from, to) and [ceil(from), ceil(to)) hold the same dossiers.
   */
  async summarise(summary: SummarySection, scope: SummaryScope, signal?: AbortSignal): Promise<SourceSummary> {
    const bound = (at: Date) =>
      this.boundPattern.format(this.boundPattern.ceil(at, this.boundOffset), this.boundOffset);
    const values: TemplateValues = {
      province: this.context.provinceCode,
      updatedFrom: bound(scope.updatedFrom),
      updatedTo: bound(scope.updatedTo),
      codeFrom: scope.codeFrom,
      codeTo: scope.codeTo,
    };
    const body = (await this.get(summary, values, signal)).data;
    const where = `connector ${this.context.connectorId}: the summary answer`;
    if (summary.digest) {
      const count = readPath(body, summary.digest.countPath);
      const hash = readPath(body, summary.digest.hashPath);
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
        throw new SourceError(`${where}: ${summary.digest.countPath} is not a whole number of dossiers`, false);
      if (typeof hash !== 'string' || !/^[0-9a-fA-F]{16}$/.test(hash))
        throw new SourceError(`${where}: ${summary.digest.hashPath} is not a hash of 16 hex digits`, false);
      return { kind: 'digest', count, hash: hash.toLowerCase() };
    }
    const listing = summary.listing!;
    const entries = readPath(body, listing.entriesPath);
    if (!Array.isArray(entries))
      throw new SourceError(`${where}: ${listing.entriesPath} does not lead to a list of entries`, false);
    return { kind: 'listing', entries: entries.map((entry, position) => this.entryOf(listing, entry, position)) };
  }

  private entryOf(listing: NonNullable<SummarySection['listing']>, entry: unknown, position: number): SummaryEntry {
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
    if (codes.some((code) => code.includes(fetch.separator)))
      throw new SourceError(
        `connector ${this.context.connectorId}: a dossier code contains reconcile.fetch.separator ${JSON.stringify(fetch.separator)}, so it cannot be asked for by code`,
        false,
      );
    const records: unknown[] = [];
    for (let from = 0; from < codes.length; from += fetch.batchSize) {
      const values = {
        province: this.context.provinceCode,
        codes: codes.slice(from, from + fetch.batchSize).join(fetch.separator),
      };
      const body = (await this.get(fetch, values, signal)).data;
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

  /** One GET, paced; a refused OAuth2 token is renewed once; failures classified by the retry section. */
  private async get(
    request: SummarySection | FetchSection,
    values: TemplateValues,
    signal?: AbortSignal,
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
    const attempt = () =>
      gate.run(() => http.get(url, { params: rendered(request.query), headers: rendered(request.headers), signal }));
    const what = `connector ${connectorId}: GET ${url}`;
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

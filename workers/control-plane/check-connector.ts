import { createConnector, type RegisteredConnector } from '../../connectors/plugins.js';
import { readPath } from '../../connectors/declarative/json-path.js';
import { canRead, WebhookBodyError, type Connector, type FieldSource } from '../../connectors/sdk/connector.js';
import type { RequestErrorCode } from '../../config/error-catalogue.js';
import { vietnamOffsetMinutes } from '../../connectors/sdk/dates.js';
import { dossierDateFields, type DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DeadLetterReason } from '../../connectors/sdk/mapping-error.js';
import { mapItems, type MappingContext } from '../../connectors/sdk/normalise.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import { SecretUnavailableError } from '../../connectors/sdk/secrets.js';

/**
 * How far a check got: the connector could not be built, the system did not answer, refused our credentials,
 * refused the request, the sample body held no updates where the connector expects them (`body`), or it read a
 * page or mapped the sample (`read`).
 */
export type CheckStage = 'configuration' | 'connection' | 'authentication' | 'request' | 'body' | 'read';

/** One canonical field of a record that would be stored: the value stored, and what the source wrote for it. */
export interface CheckField {
  /** The canonical field: `dossierCode`, `provinceCode`, `dueAt`, `sourceVersion`… */
  field: string;
  /** As stored: text, a number, a date in Vietnam time (`2026-11-27T08:00:00+07:00`), or null for none. */
  stored: string | number | null;
  /**
   * Each path the connector reads the field from (`mappedFields`), with what the record holds there: a text,
   * number, boolean or null as written (`value` left out: the record has no such path). Never a nested value.
   */
  sources: { path: string; value?: unknown }[];
  /**
   * How the stored value came about when the record does not give it as such: a default, a former province's successor.
   */
  note?: string;
}

/** A record that would be stored: codes, status and dates only (canonical records hold no personal data). */
export interface CheckExample {
  dossierCode: string;
  status: number;
  sourceStatus: string;
  submittedAt: string | null;
  dueAt: string | null;
  sourceUpdatedAt: string;
  /** Every canonical field it would store, in the order of DossierRecord, beside what the source wrote. */
  fields: CheckField[];
}

/** A mapped path that no record of the page (or sample) has: a mistyped path falls back in silence otherwise. */
export interface CheckWarning {
  field: string;
  path: string;
  /** What it costs, and what to do: one line. */
  message: string;
}

/** The dead letters of one reason. */
export interface CheckDeadLetterGroup {
  reason: DeadLetterReason;
  count: number;
  /** The first few, with the dossier code (when it could be read) and the message naming the field. */
  examples: { dossierCode: string | null; message: string }[];
}

/** What `check` found. Nothing of it is stored. */
export interface CheckResult {
  connectorId: string;
  kind: string;
  provinceCode: string;
  /** True when a page was read (even an empty one) or the sample body was mapped. */
  ok: boolean;
  stage: CheckStage;
  /** On failure, the error: written to be actionable, without secrets. */
  message: string;
  /** What was mapped: the first page of the system, or a sample body (pushed updates; no network). */
  source: 'page' | 'sample';
  recordsRead: number;
  /** The source has more pages than the one read. */
  hasMore: boolean;
  stored: { count: number; examples: CheckExample[] };
  /** `percent`: the share of the records read that would be dead-lettered, 0 to 100. */
  deadLettered: { count: number; percent: number; byReason: CheckDeadLetterGroup[] };
  /** Mapped paths that no record read has, each with what it costs. */
  warnings: CheckWarning[];
  /** The share of dead letters accepted (CheckOptions.acceptDeadLetters). */
  acceptedDeadLetterPercent: number;
  /** True when `ok` and no more than the accepted share would be dead-lettered: what a script or CI waits for. */
  passed: boolean;
}

/** Options of a check. */
export interface CheckOptions {
  /** Records shown as examples of what would be stored. Default 3. */
  examples?: number;
  /** Dead letters shown per reason. Default 5. */
  deadLettersPerReason?: number;
  /** Time allowed to read the page. Default 120000 ms. */
  timeoutMs?: number;
  /** A pushed (webhook) body, parsed, to map instead of reading a page: nothing is sent anywhere. Default: none. */
  sample?: unknown;
  /** The share of the records (percent, 0 to 100) that may be dead-lettered and the check still pass. Default 0. */
  acceptDeadLetters?: number;
}

/**
 * A check that cannot be done as asked: a sample body for a connector whose system cannot push, or no sample
 * for one whose system only pushes. Bad input for the front end (exit 2, a 422), not a finding about the system.
 */
export class CheckInputError extends Error {
  override readonly name = 'CheckInputError';
  constructor(
    readonly code: Extract<RequestErrorCode, 'sample_required' | 'pushes_not_supported'>,
    message: string,
  ) {
    super(message);
  }
}

function stageOf(error: unknown): CheckStage {
  if (error instanceof SecretUnavailableError) return 'configuration';
  if (!(error instanceof SourceError)) return 'request';
  if (error.status === 401 || error.status === 403) return 'authentication';
  if (error.status !== null) return 'request';
  return error.transient ? 'connection' : 'request';
}

/** An instant as Vietnam local time with its offset, the way a province system writes it: 2026-11-27T08:00:00+07:00. */
function vietnamTime(iso: string | null): string | null {
  if (iso === null) return null;
  const local = new Date(Date.parse(iso) + vietnamOffsetMinutes * 60_000).toISOString();
  return `${local.endsWith('.000Z') ? local.slice(0, 19) : local.slice(0, 23)}+07:00`;
}

/** What a record holds at a path, as shown by a check: scalars as written, never the inside of a nested value. */
function sourceValue(item: unknown, path: string): { value?: unknown } {
  const value = readPath(item, path);
  if (value === undefined) return {};
  if (Array.isArray(value)) return { value: `(a list of ${value.length})` };
  if (value !== null && typeof value === 'object') return { value: '(an object)' };
  if (typeof value === 'string' && value.length > 100) return { value: `${value.slice(0, 100)}…` };
  return { value };
}

const given = (value: unknown) => value !== undefined && value !== null && value !== '';

/**
 * Every canonical field of a record that would be stored, beside what the source wrote where the connector reads it.
 */
function exampleFields(
  record: DossierRecord,
  item: unknown,
  paths: readonly FieldSource[],
  mapping: MappingContext,
): CheckField[] {
  const stored: [string, string | number | null][] = [
    ['dossierCode', record.dossierCode],
    ['altDossierCode', record.altDossierCode],
    ['provinceCode', record.provinceCode],
    ['provinceCodeSet', record.sourceCodeSet],
    ['procedureCode', record.procedureCode],
    ['sectorCode', record.sectorCode],
    ['agencyCode', record.agencyCode],
    ['channel', record.channel],
    ['applicantType', record.applicantType],
    ['status', record.status],
    ...dossierDateFields.map((field) => [field, vietnamTime(record[field])] as [string, string | null]),
    ['sourceUpdatedAt', vietnamTime(record.sourceUpdatedAt)],
    ['sourceVersion', record.sourceVersion],
  ];
  return stored.map(([field, value]) => {
    const sources = paths
      .filter((source) => source.field === field)
      .map(({ path }) => ({ path, ...sourceValue(item, path) }));
    const fromRecord = sources.some((source) => given(source.value));
    let note: string | undefined;
    if (field === 'provinceCode' && !fromRecord) note = "none in the record: the connector's own province";
    else if (
      field === 'provinceCode' &&
      (record.sourceCodeSet !== '2025' || record.sourceProvinceCode !== record.provinceCode)
    ) {
      note = `code set ${record.sourceCodeSet}'s ${record.sourceProvinceCode}, stored under its successor ${record.provinceCode}`;
    } else if (field === 'provinceCodeSet' && !fromRecord)
      note = `none in the record: the connector's code set (${mapping.sourceCodeSet})`;
    else if (field === 'sourceVersion' && !fromRecord)
      note = 'none in the record: the update time in epoch milliseconds';
    else if (sources.length === 0 && value === null) note = 'not mapped';
    return { field, stored: value, sources, ...(note ? { note } : {}) };
  });
}

/** What a mapped path that no record has costs, for the warning. */
function absentPathCost(field: string, mapping: MappingContext): string {
  switch (field) {
    case 'provinceCode':
      return `every record would be stored under the connector's own province ${mapping.sourceProvinceCode} (code set ${mapping.sourceCodeSet})`;
    case 'provinceCodeSet':
      return `every record's province code would be taken in the connector's code set ${mapping.sourceCodeSet}`;
    case 'sourceVersion':
      return 'every version would fall back to the update time in epoch milliseconds';
    case 'dossierCode':
    case 'status':
    case 'sourceUpdatedAt':
      return 'every record would be dead-lettered missing_field';
    default:
      return `no record would have a ${field} (right only if the system leaves it out until it applies)`;
  }
}

/** A warning for every mapped path that none of the items has. */
function absentPaths(
  items: readonly unknown[],
  paths: readonly FieldSource[],
  mapping: MappingContext,
): CheckWarning[] {
  if (items.length === 0) return [];
  const none = items.length === 1 ? 'the only record has no' : `none of the ${items.length} records has`;
  return paths
    .filter(({ path }) => !items.some((item) => readPath(item, path) !== undefined))
    .map(({ field, path }) => ({
      field,
      path,
      message: `${field}: ${none} ${JSON.stringify(path)}: ${absentPathCost(field, mapping)}; check the path`,
    }));
}

/**
 * Connects to a province system, authenticates, reads ONE page from the very beginning and maps it — or, given a
 * sample body, maps the updates in it as the webhook intake would, without any network: what would be stored
 * (every field, beside what the source wrote), what would be dead-lettered and why, and every mapped path that
 * no record has. Writes nothing anywhere. Throws CheckInputError for a check that cannot be done as asked.
 */
export async function checkConnector(
  settings: RegisteredConnector,
  options: CheckOptions = {},
  /** A connector already built from these settings; by default it is built here. */
  built?: Connector,
): Promise<CheckResult> {
  const accepted = options.acceptDeadLetters ?? 0;
  const sampled = options.sample !== undefined;
  const result: CheckResult = {
    connectorId: settings.id,
    kind: settings.kind,
    provinceCode: settings.sourceProvinceCode,
    ok: false,
    stage: 'configuration',
    message: '',
    source: sampled ? 'sample' : 'page',
    recordsRead: 0,
    hasMore: false,
    stored: { count: 0, examples: [] },
    deadLettered: { count: 0, percent: 0, byReason: [] },
    warnings: [],
    acceptedDeadLetterPercent: accepted,
    passed: false,
  };
  let connector: Connector;
  try {
    connector = built ?? createConnector(settings);
  } catch (error) {
    result.message = error instanceof Error ? error.message : String(error);
    return result;
  }

  let items: unknown[];
  if (sampled) {
    if (typeof connector.webhookItems !== 'function') {
      throw new CheckInputError(
        'pushes_not_supported',
        `connector ${settings.id} is of kind ${settings.kind}, whose system cannot push, so a sample body means nothing to it; check it without one (it reads a page)`,
      );
    }
    try {
      items = connector.webhookItems(options.sample);
    } catch (error) {
      if (!(error instanceof WebhookBodyError)) throw error;
      return { ...result, stage: 'body', message: error.message };
    }
  } else {
    if (!canRead(connector)) {
      const why = settings.kind === 'declarative' ? ' (its definition has no http, request and records)' : '';
      throw new CheckInputError(
        'sample_required',
        `connector ${settings.id} only takes pushes${why}, so there is nothing to read; give a body its system pushes`,
      );
    }
    try {
      const page = await connector.read(connector.startFrom(null), AbortSignal.timeout(options.timeoutMs ?? 120_000));
      items = page.items;
      result.hasMore = page.next !== null;
    } catch (error) {
      result.stage = stageOf(error);
      result.message = error instanceof Error ? error.message : String(error);
      return result;
    }
  }

  const mapping: MappingContext = {
    connectorId: settings.id,
    sourceProvinceCode: settings.sourceProvinceCode,
    sourceCodeSet: settings.sourceCodeSet,
    observedAt: new Date(),
  };
  const paths = connector.mappedFields();
  // One item at a time, so that each stored example is shown beside the record it came from.
  const stored: { record: DossierRecord; item: unknown }[] = [];
  const byReason = new Map<DeadLetterReason, CheckDeadLetterGroup>();
  let deadLetters = 0;
  for (const item of items) {
    const mapped = mapItems(connector, [item], mapping);
    for (const record of mapped.records) stored.push({ record, item });
    for (const letter of mapped.deadLetters) {
      deadLetters += 1;
      let group = byReason.get(letter.reason);
      if (!group) byReason.set(letter.reason, (group = { reason: letter.reason, count: 0, examples: [] }));
      group.count += 1;
      if (group.examples.length < (options.deadLettersPerReason ?? 5))
        group.examples.push({ dossierCode: letter.dossierCode, message: letter.message });
    }
  }
  return {
    ...result,
    ok: true,
    stage: 'read',
    recordsRead: items.length,
    stored: {
      count: stored.length,
      examples: stored.slice(0, options.examples ?? 3).map(({ record, item }) => ({
        dossierCode: record.dossierCode,
        status: record.status,
        sourceStatus: record.sourceStatus,
        submittedAt: record.submittedAt,
        dueAt: record.dueAt,
        sourceUpdatedAt: record.sourceUpdatedAt,
        fields: exampleFields(record, item, paths, mapping),
      })),
    },
    deadLettered: {
      count: deadLetters,
      percent: items.length === 0 ? 0 : (deadLetters * 100) / items.length,
      byReason: [...byReason.values()].sort((a, b) => b.count - a.count),
    },
    warnings: absentPaths(items, paths, mapping),
    // Compared in whole numbers where it matters: 7 of 100 is exactly 7%, not 7.000000000000001%.
    passed: deadLetters * 100 <= accepted * items.length,
  };
}

/** The hint when a page held nothing: the records path or the request is usually wrong. */
export const emptyPageHint = '0 records on the first page — check records.path / the request';
/** The hint when a sample body held an empty list of updates. */
export const emptySampleHint = '0 updates in the sample body — check webhook.recordsPath / the sample';

import { createConnector } from './plugins.js';
import type { Connector } from './sdk/connector.js';
import type { CodeSet } from '../config/provinces.js';
import type { DeadLetterReason } from './sdk/mapping-error.js';
import { mapItems } from './sdk/normalise.js';
import { SourceError } from './sdk/source-error.js';
import { SecretUnavailableError } from './sdk/secrets.js';

/** How far a check got: the connector could not be built, the system did not answer, refused our credentials, refused the request, or it read a page. */
export type CheckStage = 'configuration' | 'connection' | 'authentication' | 'request' | 'read';

/** A record that would be stored: codes, status and dates only (canonical records hold no personal data). */
export interface CheckExample {
  dossierCode: string;
  status: number;
  sourceStatus: string;
  submittedAt: string | null;
  dueAt: string | null;
  sourceUpdatedAt: string;
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
  /** True when a page was read (even an empty one). */
  ok: boolean;
  stage: CheckStage;
  /** On failure, the error: written to be actionable, without secrets. */
  message: string;
  recordsRead: number;
  /** The source has more pages than the one read. */
  hasMore: boolean;
  stored: { count: number; examples: CheckExample[] };
  deadLettered: { count: number; byReason: CheckDeadLetterGroup[] };
}

/** Options of a check. */
export interface CheckOptions {
  /** Records shown as examples of what would be stored. Default 3. */
  examples?: number;
  /** Dead letters shown per reason. Default 5. */
  deadLettersPerReason?: number;
  /** Time allowed to read the page. Default 120000 ms. */
  timeoutMs?: number;
}

function stageOf(error: unknown): CheckStage {
  if (error instanceof SecretUnavailableError) return 'configuration';
  if (!(error instanceof SourceError)) return 'request';
  if (error.status === 401 || error.status === 403) return 'authentication';
  if (error.status !== null) return 'request';
  return error.transient ? 'connection' : 'request';
}

/**
 * Connects to a province system, authenticates, reads ONE page from the very beginning and maps it: what
 * would be stored and what would be dead-lettered, and why. Writes nothing anywhere.
 */
export async function checkConnector(
  settings: { id: string; provinceCode: string; codeSet: CodeSet; kind: string; config: unknown },
  options: CheckOptions = {},
  /** A connector already built from these settings; by default it is built here. */
  built?: Connector,
): Promise<CheckResult> {
  const result: CheckResult = {
    connectorId: settings.id,
    kind: settings.kind,
    provinceCode: settings.provinceCode,
    ok: false,
    stage: 'configuration',
    message: '',
    recordsRead: 0,
    hasMore: false,
    stored: { count: 0, examples: [] },
    deadLettered: { count: 0, byReason: [] },
  };
  let connector: Connector;
  try {
    connector = built ?? createConnector(settings);
  } catch (error) {
    result.message = error instanceof Error ? error.message : String(error);
    return result;
  }

  let page;
  try {
    page = await connector.read(connector.startFrom(null), AbortSignal.timeout(options.timeoutMs ?? 120_000));
  } catch (error) {
    result.stage = stageOf(error);
    result.message = error instanceof Error ? error.message : String(error);
    return result;
  }

  const { records, deadLetters } = mapItems(connector, page.items, {
    connectorId: settings.id,
    provinceCode: settings.provinceCode,
    codeSet: settings.codeSet,
    observedAt: new Date(),
  });
  const byReason = new Map<DeadLetterReason, CheckDeadLetterGroup>();
  for (const letter of deadLetters) {
    let group = byReason.get(letter.reason);
    if (!group) byReason.set(letter.reason, (group = { reason: letter.reason, count: 0, examples: [] }));
    group.count += 1;
    if (group.examples.length < (options.deadLettersPerReason ?? 5)) group.examples.push({ dossierCode: letter.dossierCode, message: letter.message });
  }
  return {
    ...result,
    ok: true,
    stage: 'read',
    recordsRead: page.items.length,
    hasMore: page.next !== null,
    stored: {
      count: records.length,
      examples: records.slice(0, options.examples ?? 3).map((record) => ({
        dossierCode: record.dossierCode,
        status: record.status,
        sourceStatus: record.sourceStatus,
        submittedAt: record.submittedAt,
        dueAt: record.dueAt,
        sourceUpdatedAt: record.sourceUpdatedAt,
      })),
    },
    deadLettered: { count: deadLetters.length, byReason: [...byReason.values()].sort((a, b) => b.count - a.count) },
  };
}

/** The hint when a page held nothing: the records path or the request is usually wrong. */
export const emptyPageHint = '0 records on the first page — check records.path / the request';

import { readFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { Config } from '../../../config/env.js';
import { statusOfCode } from '../../../config/error-catalogue.js';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import { isPolled } from '../../../connectors/plugins.js';
import type { ConnectorStatusRow } from '../../../db/queries/connectors.js';
import { countStoredDossiers } from '../../../db/queries/stored-dossiers.js';
import type { Database } from '../../../db/schema.js';
import {
  checkConnector,
  CheckInputError,
  emptyPageHint,
  emptySampleHint,
  type CheckField,
  type CheckResult,
} from '../../../workers/control-plane/check-connector.js';
import { JsonBodyError, parseStrictJson } from '../../../workers/webhooks/strict-json.js';
import {
  ConnectorRegistry,
  connectorSettings,
  definitionFromText,
  definitionOf,
  RegistryError,
  type StateChange,
  type SubmittedDefinition,
} from '../../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { connectorListView, connectorView } from '../../../workers/control-plane/connector-view.js';
import { NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';

// `fleet connector add|update|list|show|check|pause|resume|remove`: the connector registry on the command line.
// It only writes the `connectors` table; the scheduler follows within one refresh (5 s).

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Registry errors on the command line, one line: an unknown connector exits 3, any other refusal 2 (bad input). */
async function registry<T>(
  config: Config,
  verb: string,
  work: (registry: ConnectorRegistry, db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  try {
    return await withDatabase(config, (db) => work(new ConnectorRegistry(db), db));
  } catch (error) {
    if (error instanceof RegistryError) {
      const message = `fleet connector ${verb}: ${error.message}`;
      throw statusOfCode(error.code) === 404 ? new NotFoundError(message) : new UsageError(message);
    }
    throw error;
  }
}

/** The `-o` a verb was given. */
interface OutputOptions {
  output?: OutputFormat;
}

/** Reads and validates a definition file; every problem on its own line, exit 2, before anything is stored. */
export async function readDefinitionFile(path: string): Promise<SubmittedDefinition> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `fleet connector: --file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a connector definition file (YAML or JSON)`,
    );
  }
  try {
    return definitionFromText(text, path);
  } catch (error) {
    if (error instanceof DefinitionError) throw new UsageError(error.problems.join('\n'));
    throw error;
  }
}

function describe(row: ConnectorStatusRow): string {
  return `${row.kind}, province ${row.province_code}`;
}

function pollEvery(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** How a connector gets its updates, in a few words: polled every …, or push-only. */
function howUpdated(connector: ConnectorStatusRow): string {
  return isPolled(connectorSettings(connector))
    ? `polled every ${pollEvery(connector.poll_interval_ms)}`
    : 'push-only: never polled';
}

/** `fleet connector add --file def.yaml`: validates, stores and schedules a new connector. */
export async function connectorAdd(config: Config, file: string, options: OutputOptions = {}): Promise<void> {
  const submitted = await readDefinitionFile(file);
  const { outcome, connector } = await registry(config, 'add', (connectors) =>
    connectors.add(submitted, { actor: cliActor() }),
  );
  const again = outcome === 'reactivated' ? ' again: it was removed, and its cursor and data were kept' : '';
  const updates = isPolled(connectorSettings(connector))
    ? `polled every ${pollEvery(connector.poll_interval_ms)} from the scheduler's next refresh`
    : `push-only: never polled; it takes signed pushes at POST /v1/webhooks/${connector.id} once it has a secret (fleet connector rotate-secret ${connector.id})`;
  printView(
    connectorView(connector, true),
    options.output,
    () => `added connector ${connector.id} (${describe(connector)})${again}; active, ${updates}`,
  );
}

/**
 * `fleet connector update --file def.yaml`: replaces a registered connector's definition, keeping its state and cursor.
 */
export async function connectorUpdate(
  config: Config,
  file: string,
  id?: string,
  options: OutputOptions = {},
): Promise<void> {
  const submitted = await readDefinitionFile(file);
  if (id !== undefined && id !== submitted.definition.id) {
    throw new UsageError(
      `fleet connector update: ${file} defines connector ${submitted.definition.id}, not ${id}; expected the id of the connector to update`,
    );
  }
  const connector = await registry(config, 'update', (connectors) =>
    connectors.update(submitted, { actor: cliActor() }),
  );
  printView(
    connectorView(connector, true),
    options.output,
    () => `updated connector ${connector.id} (${describe(connector)}): ${connector.state}, ${howUpdated(connector)}`,
  );
}

function compactJson(value: unknown, max: number): string {
  if (value === null || value === undefined) return '-';
  return truncate(JSON.stringify(value), max);
}

/** `fleet connector list`: one line per connector. */
export async function connectorList(config: Config, options: { all: boolean } & OutputOptions): Promise<void> {
  const rows = await registry(config, 'list', (connectors) => connectors.list({ includeRemoved: options.all }));
  printView(connectorListView(rows), options.output, () =>
    rows.length === 0
      ? 'no connectors registered; add one with: fleet connector add --file definition.yaml'
      : connectorTable(rows),
  );
}

/** The connectors as a table, one line each. */
function connectorTable(rows: readonly ConnectorStatusRow[]): string {
  return formatTable(
    ['ID', 'PROVINCE', 'KIND', 'STATE', 'BREAKER', 'LAST SUCCESS', 'LAST ERROR', 'CURSOR'],
    rows.map((row) => [
      row.id,
      row.province_code,
      row.kind,
      row.state,
      row.breaker_state ?? '-',
      formatTime(row.last_success_at),
      row.last_error ? `${formatTime(row.last_error_at)} ${truncate(row.last_error, 50)}` : '-',
      // A push-only connector has no cursor; its pushes are counted in dossier_sync_webhook_deliveries_total.
      isPolled(connectorSettings(row)) ? compactJson(row.cursor_position, 70) : 'push-only: not polled',
    ]),
  );
}

/**
 * `fleet connector show ID`: its state, cursor and the dossiers stored as comments, then the stored definition as YAML.
 */
export async function connectorShow(config: Config, id: string, options: OutputOptions = {}): Promise<void> {
  const { row, stored } = await registry(config, 'show', async (connectors, db) => {
    const found = await connectors.get(id);
    return { row: found, stored: await countStoredDossiers(db, id) };
  });
  printView(connectorView(row, true), options.output, () => connectorText(row, stored));
}

/**
 * A connector for a person: its state, cursor and the dossiers stored as YAML comments, then the stored definition as
 * YAML.
 */
function connectorText(row: ConnectorStatusRow, stored: number): string {
  const comment = (text: string) => `# ${text.replace(/\s+/g, ' ')}`;
  const polled = [
    comment(
      `last success: ${formatTime(row.last_success_at)}; last error: ${row.last_error ? `${formatTime(row.last_error_at)} ${row.last_error}` : '-'}`,
    ),
    comment(
      row.cursor_position === null
        ? 'cursor: none yet (the first run reads from the beginning)'
        : `cursor: ${JSON.stringify(row.cursor_position)} (moved ${formatTime(row.cursor_updated_at)}, over ${row.records_committed} records read in the pages that moved it, re-reads counted again)`,
    ),
  ];
  const pushOnly = [
    comment(
      `push-only: never polled (no poll schedule, no cursor); it takes signed pushes at POST /v1/webhooks/${row.id}`,
    ),
  ];
  const lines = [
    comment(`connector ${row.id} (${describe(row)}, code set ${row.code_set}): ${row.state}`),
    comment(
      `stored: ${stored} dossier${stored === 1 ? '' : 's'} (fleet connector status ${row.id}: where its sync stands)`,
    ),
    ...(isPolled(connectorSettings(row)) ? polled : pushOnly),
    comment(`registered ${formatTime(row.created_at)}, definition updated ${formatTime(row.updated_at)}`),
  ];
  return `${lines.join('\n')}\n${toYaml(definitionOf(row)).trimEnd()}`;
}

function printStateChange(change: StateChange, verb: string, done: string, options: OutputOptions): void {
  const { connector, previous } = change;
  printView(connectorView(connector, false), options.output, () =>
    previous === connector.state
      ? `connector ${connector.id} is already ${connector.state}; nothing changed`
      : `${verb} connector ${connector.id}: ${done}`,
  );
}

/** `fleet connector pause ID`. */
export async function connectorPause(config: Config, id: string, options: OutputOptions = {}): Promise<void> {
  const change = await registry(config, 'pause', (connectors) => connectors.pause(id, { actor: cliActor() }));
  const done = isPolled(connectorSettings(change.connector))
    ? 'no new poll runs are scheduled (within 5 s); its cursor and data are kept'
    : 'its pushes are refused (409 connector_paused) within 5 s, until it is resumed; its data are kept';
  printStateChange(change, 'paused', done, options);
}

/** `fleet connector resume ID`. */
export async function connectorResume(config: Config, id: string, options: OutputOptions = {}): Promise<void> {
  const change = await registry(config, 'resume', (connectors) => connectors.resume(id, { actor: cliActor() }));
  const done = isPolled(connectorSettings(change.connector))
    ? 'poll runs are scheduled again (within 5 s), from its committed cursor'
    : 'its pushes are taken again (within 5 s)';
  printStateChange(change, 'resumed', done, options);
}

/** `fleet connector remove ID`. */
export async function connectorRemove(config: Config, id: string, options: OutputOptions = {}): Promise<void> {
  printStateChange(
    await registry(config, 'remove', (connectors) => connectors.remove(id, { actor: cliActor() })),
    'removed',
    'it is no longer scheduled (within 5 s); its dossiers, cursor and dead letters are kept, and add registers it again',
    options,
  );
}

/** A share of records, as a person reads it: 85, 14.3, 0.1. */
function percent(value: number): string {
  return `${Number(value.toFixed(1))}%`;
}

/** One stored field of an example: the field, the value stored, and where it came from. */
function formatField({ field, stored, sources, note }: CheckField): string {
  const shown = (value: unknown) => (value === undefined ? '(absent)' : JSON.stringify(value));
  const from =
    sources.length > 0 ? `from ${sources.map((source) => `${source.path} ${shown(source.value)}`).join(', ')}` : '';
  return `    ${field.padEnd(16)} ${String(stored ?? '-').padEnd(25)} ${[from, note ? `(${note})` : ''].filter(Boolean).join(' ')}`.trimEnd();
}

/** The report of a check, for the terminal: what it found on stdout, why it failed on stderr. */
export function formatCheck(result: CheckResult): { out: string[]; err: string[] } {
  const sampled = result.source === 'sample';
  const out = [
    `check of connector ${result.connectorId} (${result.kind}, province ${result.provinceCode}): ${sampled ? 'maps the sample body' : 'reads one page'}, writes nothing`,
  ];
  if (!result.ok) {
    const label = {
      configuration: 'cannot build the connector',
      connection: 'could not connect',
      authentication: 'connected, but authentication failed',
      request: 'could not read the first page',
      body: 'the sample body holds no updates where the connector expects them',
      read: 'failed',
    }[result.stage];
    return { out, err: [`${label}: ${result.message}`] };
  }
  out.push(
    sampled
      ? `mapped the sample body: ${result.recordsRead} update${result.recordsRead === 1 ? '' : 's'}`
      : `connected and authenticated; read ${result.recordsRead} records on the first page${result.hasMore ? ' (the source has more pages; check reads only the first)' : ''}`,
  );
  if (result.recordsRead === 0) {
    out.push(sampled ? emptySampleHint : emptyPageHint);
    return { out, err: [] };
  }
  for (const warning of result.warnings) out.push(`warning: ${warning.message}`);
  const { stored, deadLettered } = result;
  out.push(`${stored.count} would be stored${stored.examples.length > 0 ? ', for example:' : ''}`);
  for (const record of stored.examples) {
    out.push(`  ${record.dossierCode}`);
    for (const field of record.fields) out.push(formatField(field));
  }
  out.push(`${deadLettered.count} would be dead-lettered${deadLettered.count > 0 ? ':' : ''}`);
  for (const group of deadLettered.byReason) {
    out.push(`  ${group.reason}: ${group.count}`);
    for (const letter of group.examples)
      out.push(`    ${letter.dossierCode ?? '(no dossier code)'}: ${letter.message}`);
    if (group.count > group.examples.length) out.push(`    … and ${group.count - group.examples.length} more`);
  }
  const share = `${deadLettered.count} of ${result.recordsRead} records (${percent(deadLettered.percent)}) would be dead-lettered`;
  const accepted = percent(result.acceptedDeadLetterPercent);
  if (!result.passed) {
    // Rounded up, so that the share suggested accepts the share found.
    const suggestion = Math.ceil(deadLettered.percent * 10) / 10;
    return {
      out,
      err: [
        `check failed: ${share}, more than the ${accepted} accepted; fix the definition or the records, or accept a known share with --accept-dead-letters ${suggestion}`,
      ],
    };
  }
  if (deadLettered.count > 0) out.push(`${share}: within the ${accepted} accepted`);
  return { out, err: [] };
}

/** A share of dead letters a check accepts: a percentage from 0 to 100, with or without `%`. */
const acceptedShare = z
  .string()
  .regex(/^\d{1,3}(\.\d+)?%?$/)
  .transform((text) => Number(text.replace('%', '')))
  .pipe(z.number().max(100));

/** Reads a sample webhook body as the gateway would (strict JSON); bad input is one line, exit 2. */
async function readSampleBody(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `fleet connector check: --sample ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a webhook body (JSON) as the system pushes it`,
    );
  }
  try {
    const { value, hasPrototypeKeys } = parseStrictJson(text.replace(/^\uFEFF/, ''), 64);
    if (hasPrototypeKeys) {
      // The gateway keeps an update holding such a key as a dead letter without mapping it; a check that mapped it
      // would mislead.
      throw new UsageError(
        `fleet connector check: --sample ${path}: the body holds a __proto__, constructor or prototype key; the gateway keeps each update holding one as a malformed_record dead letter (or refuses the body when the key is outside the updates): remove it and check again`,
      );
    }
    return value;
  } catch (error) {
    if (error instanceof JsonBodyError)
      throw new UsageError(`fleet connector check: --sample ${path}: not a JSON body: ${error.message}`);
    throw error;
  }
}

/** Options of `fleet connector check`. */
export interface CheckCommandOptions extends OutputOptions {
  /** A definition file, checked without the database. */
  file?: string;
  /** A webhook body (JSON) to map instead of reading a page. */
  sample?: string;
  /** The share of dead letters accepted, as typed (e.g. `5`, `2.5%`). Default 0. */
  acceptDeadLetters?: string;
}

/**
 * `fleet connector check --file def.yaml | ID [--sample body.json] [--accept-dead-letters PERCENT]`: connects,
 * authenticates, reads and maps one page (or maps a sample body, without any network), and prints what would
 * be stored and dead-lettered. Exit 1 when the system cannot be read, the sample holds no updates where the
 * definition expects them, or more than the accepted share (default none) would be dead-lettered. Never writes.
 */
export async function connectorCheck(
  config: Config,
  id: string | undefined,
  options: CheckCommandOptions,
): Promise<number> {
  const { file } = options;
  if ((id === undefined) === (file === undefined)) {
    throw new UsageError(
      'fleet connector check: expected either a connector id or --file definition.yaml, not both or neither',
    );
  }
  let acceptDeadLetters = 0;
  if (options.acceptDeadLetters !== undefined) {
    const parsed = acceptedShare.safeParse(options.acceptDeadLetters);
    if (!parsed.success) {
      throw new UsageError(
        `fleet connector check: --accept-dead-letters ${JSON.stringify(options.acceptDeadLetters)}: expected a percentage from 0 to 100, such as 5 or 2.5`,
      );
    }
    acceptDeadLetters = parsed.data;
  }
  const sample = options.sample !== undefined ? await readSampleBody(options.sample) : undefined;
  // A file is checked without touching the database at all.
  const settings =
    file !== undefined
      ? (await readDefinitionFile(file)).definition
      : connectorSettings(await registry(config, 'check', (connectors) => connectors.get(id!)));
  let result: CheckResult;
  try {
    result = await checkConnector(settings, { acceptDeadLetters, ...(sample !== undefined ? { sample } : {}) });
  } catch (error) {
    if (!(error instanceof CheckInputError)) throw error;
    throw new UsageError(
      `fleet connector check: ${error.message}${error.code === 'sample_required' ? ' with --sample FILE' : ''}`,
    );
  }
  if (options.output !== undefined) {
    // The result as the admin API's check returns it; whether it passed is in the exit code and `passed`.
    printView(result, options.output, () => []);
  } else {
    const { out, err } = formatCheck(result);
    for (const line of out) console.log(line);
    for (const line of err) console.error(line);
  }
  return result.passed ? 0 : 1;
}

import type { Kysely } from 'kysely';
import type { Config } from '../../../config/env.js';
import {
  countFailedBatches,
  findFailedBatch,
  listFailedBatches,
  type FailedBatchFilter,
} from '../../../db/queries/failed-batches.js';
import type { Database } from '../../../db/schema.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { openIngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createLogger } from '../../../workers/logger.js';
import { RedisUnavailableError } from '../../../workers/redis.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { markFailedBatches, waitingFailedBatchIds } from '../../../workers/control-plane/failed-batch-marks.js';
import { FailedBatchNotQueuedError, retryFailedBatch } from '../../../workers/control-plane/failed-batch-retry.js';
import {
  failedBatchListView,
  failedBatchView,
  type FailedBatchView,
} from '../../../workers/control-plane/failed-batch-view.js';
import { NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';
import { Progress } from '../progress.js';

// `fleet failed-batch list|show|retry|discard`: ingest batches the writer gave up on, kept in Postgres by the
// writer's failed-batch sweep. A retry goes through the queue and the writer like any batch, never around them. The
// admin API's /v1/admin/failed-batches routes do the same for a key (workers/http/admin/failed-batch-routes.ts).

/** The filter options every `fleet failed-batch` verb takes, as typed on the command line. */
export interface FailedBatchOptions {
  connector?: string;
  province?: string;
  origin?: string;
  since?: string;
  until?: string;
  state?: string;
}

function time(verb: string, option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(
      `fleet failed-batch ${verb}: ${option} ${JSON.stringify(value)} is not a time; expected ISO 8601 such as 2026-11-27 or 2026-11-27T08:00:00+07:00`,
    );
  return date;
}

function batchIds(verb: string, ids: readonly string[]): string[] {
  for (const id of ids) {
    if (!/^\d{1,18}$/.test(id))
      throw new UsageError(
        `fleet failed-batch ${verb}: ${JSON.stringify(id)} is not a failed batch id; expected a number from fleet failed-batch list`,
      );
  }
  return [...ids];
}

/** Turns command-line options into a filter; bad values are a usage error (exit 2). */
export function failedBatchFilter(verb: string, options: FailedBatchOptions): FailedBatchFilter {
  const states = ['failed', 'retried', 'discarded', 'all'] as const;
  if (options.state !== undefined && !(states as readonly string[]).includes(options.state)) {
    throw new UsageError(
      `fleet failed-batch ${verb}: --state ${JSON.stringify(options.state)} is not a state; expected one of ${states.join(', ')}`,
    );
  }
  if (options.origin !== undefined && options.origin !== 'poll' && options.origin !== 'push') {
    throw new UsageError(
      `fleet failed-batch ${verb}: --origin ${JSON.stringify(options.origin)}: expected poll or push`,
    );
  }
  if (options.province !== undefined && !/^\d{2}$/.test(options.province)) {
    throw new UsageError(
      `fleet failed-batch ${verb}: --province ${JSON.stringify(options.province)}: expected a two-digit province code`,
    );
  }
  return {
    connectorId: options.connector,
    provinceCode: options.province,
    origin: options.origin as FailedBatchFilter['origin'],
    since: time(verb, '--since', options.since),
    until: time(verb, '--until', options.until),
    state: options.state as FailedBatchFilter['state'],
  };
}

const narrowed = (filter: FailedBatchFilter) =>
  Boolean(filter.connectorId || filter.provinceCode || filter.origin || filter.since || filter.until);

/** The ids a retry or a discard is about: the ones given, or every `failed` batch matching the filter. */
function selected(
  db: Kysely<Database>,
  verb: string,
  ids: readonly string[],
  options: FailedBatchOptions & { allFailed?: boolean },
): AsyncGenerator<string> {
  const filter = failedBatchFilter(verb, { ...options, state: undefined });
  if (ids.length === 0 && !narrowed(filter) && !options.allFailed) {
    throw new UsageError(
      `fleet failed-batch ${verb}: expected failed batch ids, a filter (--connector, --province, --origin, --since, --until), or --all-failed for every failed batch`,
    );
  }
  return waitingFailedBatchIds(db, { ...filter, ...(ids.length > 0 ? { ids: batchIds(verb, ids) } : {}) });
}

/** `fleet failed-batch list`: counts by province, then the batches (no batch content). */
export async function failedBatchList(
  config: Config,
  options: FailedBatchOptions & { limit: number; output?: OutputFormat },
): Promise<void> {
  const filter = failedBatchFilter('list', options);
  await withDatabase(config, async (db) => {
    const counts = await countFailedBatches(db, filter);
    const rows = counts.length === 0 ? [] : await listFailedBatches(db, filter, { limit: options.limit });
    printView(failedBatchListView(counts, rows), options.output, () => {
      if (counts.length === 0) return 'no failed batches match';
      const total = counts.reduce((sum, { count }) => sum + count, 0);
      return [
        counts.map(({ provinceCode, count }) => `province ${provinceCode}: ${count}`).join('  ·  '),
        formatTable(
          [
            'id',
            'failed',
            'province',
            'connector',
            'origin',
            'records',
            'dead letters',
            'attempts',
            'failures',
            'state',
            'error',
          ],
          rows.map((row) => [
            row.id,
            formatTime(row.failed_at),
            row.province_code,
            row.connector_id,
            row.origin,
            String(row.records),
            String(row.dead_letters),
            String(row.attempts),
            String(row.failures),
            row.state,
            row.error.replace(/\s+/g, ' ').slice(0, 100),
          ]),
        ),
        ...(total > rows.length
          ? [`… ${total - rows.length} more (use --limit, or narrow with --connector, --province, --since)`]
          : []),
      ];
    });
  });
}

/** A failed batch for a person: one field a line, the first dossier codes, and with --batch the whole batch. */
function failedBatchText(view: FailedBatchView): string[] {
  const { dossierCodes: codes, deadLettersByReason: reasons } = view;
  const deadLetters = reasons.reduce((sum, { count }) => sum + count, 0);
  return [
    `id: ${view.id}\nstate: ${view.state}${view.stateChangedAt ? ` (${formatTime(view.stateChangedAt)})` : ''}\nprovince: ${view.provinceCode}\nconnector: ${view.connectorId}\norigin: ${view.origin}`,
    `failed: ${formatTime(view.failedAt)} (first ${formatTime(view.firstFailedAt)}; ${view.failures} time${view.failures === 1 ? '' : 's'}, ${view.attempts} attempts the last time)\nerror: ${view.error}`,
    `records: ${codes.length}${codes.length > 0 ? ` (${codes.slice(0, 20).join(', ')}${codes.length > 20 ? `, … ${codes.length - 20} more` : ''})` : ''}`,
    `dead letters: ${deadLetters}${reasons.length > 0 ? ` (${reasons.map(({ reason, count }) => `${reason}: ${count}`).join(', ')})` : ''}`,
    `cursor move: ${view.cursor ? `${JSON.stringify(view.cursor.before)} → ${JSON.stringify(view.cursor.after)}` : 'none'}`,
    ...(view.unreadable ? [`unreadable by this release (what could be read is shown above): ${view.unreadable}`] : []),
    ...(view.batch ? [`batch:\n${JSON.stringify(view.batch, null, 2)}`] : []),
  ];
}

/** `fleet failed-batch show ID`: one batch, what it holds (dossier codes, dead letters by reason, cursor move). */
export async function failedBatchShow(
  config: Config,
  id: string,
  options: { batch?: boolean; output?: OutputFormat },
): Promise<void> {
  const [batchId] = batchIds('show', [id]);
  await withDatabase(config, async (db) => {
    const row = await findFailedBatch(db, batchId!);
    if (!row) throw new NotFoundError(`fleet failed-batch show: no failed batch ${batchId}`);
    printView(failedBatchView(row, { withBatch: options.batch === true }), options.output, failedBatchText);
  });
}

/**
 * `fleet failed-batch retry`: hands each selected batch to its province's ingest queue as it was, and marks it
 * retried once Redis has acknowledged it (`retryFailedBatch`).
 */
export async function failedBatchRetry(
  config: Config,
  ids: readonly string[],
  options: FailedBatchOptions & { allFailed?: boolean },
): Promise<void> {
  await withDatabase(config, async (db) => {
    const ingest = await openIngestQueue(
      config.REDIS_URL,
      config.QUEUE_PREFIX,
      new BackgroundErrorReporter(createLogger(config.LOG_LEVEL)),
      config.INGEST_KEPT_COMPLETED_BATCHES,
    );
    const actor = cliActor();
    let retried = 0;
    let records = 0;
    const progress = new Progress();
    try {
      for await (const id of selected(db, 'retry', ids, options)) {
        let outcome;
        try {
          outcome = await retryFailedBatch(db, ingest, id, { actor });
        } catch (error) {
          if (!(error instanceof FailedBatchNotQueuedError)) throw error;
          throw new RedisUnavailableError(
            `fleet failed-batch retry: ${error.message}; ${retried} batch${retried === 1 ? ' was' : 'es were'} retried before it`,
          );
        }
        if (!outcome) continue;
        retried += 1;
        records += outcome.records;
        progress.update(
          `retrying: ${retried} failed batch${retried === 1 ? '' : 'es'} queued (${records} records and dead letters)`,
        );
      }
    } finally {
      progress.done();
      await ingest.close();
    }
    console.log(
      retried === 0
        ? 'no failed batches match: nothing to retry'
        : `retried ${retried} failed batch${retried === 1 ? '' : 'es'} (${records} records and dead letters): queued for the writer and marked retried; one that fails again is listed again`,
    );
  });
}

/** `fleet failed-batch discard`: marks the selected batches discarded (kept, not deleted). */
export async function failedBatchDiscard(
  config: Config,
  ids: readonly string[],
  options: FailedBatchOptions & { allFailed?: boolean },
): Promise<void> {
  await withDatabase(config, async (db) => {
    const chosen: string[] = [];
    for await (const id of selected(db, 'discard', ids, options)) chosen.push(id);
    const discarded = await markFailedBatches(db, chosen, { state: 'discarded', actor: cliActor() });
    console.log(
      `discarded ${discarded.length} failed batch${discarded.length === 1 ? '' : 'es'} (kept, marked discarded)`,
    );
  });
}

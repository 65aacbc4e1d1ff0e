import type { Config } from '../../../config/env.js';
import {
  countDeadLetters,
  findDeadLetter,
  listDeadLetters,
  type DeadLetterFilter,
} from '../../../db/queries/dead-letters.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { discardDeadLetters } from '../../../workers/control-plane/dead-letter-discard.js';
import { replayDeadLetters } from '../../../workers/control-plane/dead-letter-replay.js';
import {
  deadLetterListView,
  deadLetterView,
  type DeadLetterView,
} from '../../../workers/control-plane/dead-letter-view.js';
import { createLogger } from '../../../workers/logger.js';
import { openIngestQueue } from '../../../workers/queue/ingest-queue.js';
import { NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';
import { Progress } from '../progress.js';

/** The filter options every `fleet dlq` verb takes, as typed on the command line. */
export interface DeadLetterOptions {
  connector?: string;
  province?: string;
  reason?: string;
  since?: string;
  until?: string;
  state?: string;
}

function time(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(
      `fleet dlq: ${option} ${JSON.stringify(value)} is not a time; expected ISO 8601 such as 2026-11-27 or 2026-11-27T08:00:00+07:00`,
    );
  return date;
}

/** Turns command-line options into a filter; bad values are a usage error (exit 2). */
export function deadLetterFilter(options: DeadLetterOptions): DeadLetterFilter {
  const states = ['new', 'replayed', 'discarded', 'all'] as const;
  if (options.state !== undefined && !(states as readonly string[]).includes(options.state)) {
    throw new UsageError(
      `fleet dlq: --state ${JSON.stringify(options.state)} is not a state; expected one of ${states.join(', ')}`,
    );
  }
  if (options.province !== undefined && !/^\d{2}$/.test(options.province))
    throw new UsageError(
      `fleet dlq: --province ${JSON.stringify(options.province)}: expected a two-digit province code`,
    );
  return {
    connectorId: options.connector,
    provinceCode: options.province,
    reason: options.reason,
    since: time('--since', options.since),
    until: time('--until', options.until),
    state: options.state as DeadLetterFilter['state'],
  };
}

/** `fleet dlq list`: counts by reason, then the letters (id, connector, dossier, reason, message). */
export async function dlqList(
  config: Config,
  options: DeadLetterOptions & { limit: number; output?: OutputFormat },
): Promise<void> {
  const filter = deadLetterFilter(options);
  await withDatabase(config, async (db) => {
    const counts = await countDeadLetters(db, filter);
    const letters = counts.length === 0 ? [] : await listDeadLetters(db, filter, { limit: options.limit });
    printView(deadLetterListView(counts, letters), options.output, () => {
      if (counts.length === 0) return 'no dead letters match';
      const total = counts.reduce((sum, { count }) => sum + count, 0);
      return [
        counts.map(({ reason, count }) => `${reason}: ${count}`).join('  ·  '),
        formatTable(
          ['id', 'received', 'connector', 'province', 'dossier', 'reason', 'state', 'message'],
          letters.map((letter) => [
            letter.id,
            formatTime(letter.received_at),
            letter.connector_id,
            letter.province_code ?? '-',
            letter.dossier_code ?? '-',
            letter.reason,
            letter.state,
            letter.message.slice(0, 100),
          ]),
        ),
        ...(total > letters.length
          ? [`… ${total - letters.length} more (use --limit, or narrow with --connector, --reason, --since)`]
          : []),
      ];
    });
  });
}

/** A letter for a person: one field a line, then its raw payload as indented JSON. */
function deadLetterText(letter: DeadLetterView): string {
  return [
    `id: ${letter.id}\nconnector: ${letter.connectorId}\nprovince: ${letter.provinceCode ?? '-'}\ndossier: ${letter.dossierCode ?? '-'}`,
    `reason: ${letter.reason}\nmessage: ${letter.message}\nstate: ${letter.state}\nreceived: ${formatTime(letter.receivedAt)}`,
    `raw payload:\n${JSON.stringify(letter.rawPayload, null, 2)}`,
  ].join('\n');
}

/** `fleet dlq show ID...`: letters with their raw payload (redacted when kept); an unknown id shows none (exit 3). */
export async function dlqShow(
  config: Config,
  ids: readonly string[],
  options: { output?: OutputFormat } = {},
): Promise<void> {
  const bad = ids.find((id) => !/^\d+$/.test(id));
  if (bad !== undefined)
    throw new UsageError(
      `fleet dlq show: ${JSON.stringify(bad)} is not a dead letter id; expected a number from fleet dlq list`,
    );
  await withDatabase(config, async (db) => {
    const letters: DeadLetterView[] = [];
    for (const id of ids) {
      const letter = await findDeadLetter(db, id);
      if (!letter) throw new NotFoundError(`fleet dlq show: no dead letter ${id}`);
      letters.push(deadLetterView(letter, true));
    }
    printView({ deadLetters: letters }, options.output, () => letters.map(deadLetterText).join('\n\n'));
  });
}

/**
 * `fleet dlq replay`: re-maps the matching letters with their connector's current definition, with progress. The
 * records go through the ingest queue; the command waits for a running writer to commit them.
 */
export async function dlqReplay(config: Config, options: DeadLetterOptions & { batchSize: number }): Promise<void> {
  const filter = deadLetterFilter(options);
  await withDatabase(config, async (db) => {
    const total = (await countDeadLetters(db, { ...filter, state: 'new' })).reduce((sum, { count }) => sum + count, 0);
    if (total === 0) {
      console.log('no new dead letters match: nothing to replay');
      return;
    }
    const ingest = await openIngestQueue(
      config.REDIS_URL,
      config.QUEUE_PREFIX,
      new BackgroundErrorReporter(createLogger(config.LOG_LEVEL)),
      config.INGEST_KEPT_COMPLETED_BATCHES,
    );
    const progress = new Progress();
    const result = await replayDeadLetters(db, ingest, filter, {
      batchSize: options.batchSize,
      actor: cliActor(),
      onProgress: (done) =>
        progress.update(
          `replaying: ${done.processed}/${total} (${done.replayed} stored, ${done.stillFailing} still failing)`,
        ),
    }).finally(async () => {
      progress.done();
      await ingest.close();
    });
    console.log(
      `replayed ${result.processed} dead letters: ${result.replayed} stored and marked replayed, ${result.stillFailing} still failing (kept, with the reason of this attempt)`,
    );
  });
}

/** `fleet dlq discard`: marks the matching letters discarded (kept, not deleted). Needs a filter or --all-new. */
export async function dlqDiscard(config: Config, options: DeadLetterOptions & { allNew?: boolean }): Promise<void> {
  const filter = deadLetterFilter(options);
  const narrowed = filter.connectorId || filter.provinceCode || filter.reason || filter.since || filter.until;
  if (!narrowed && !options.allNew)
    throw new UsageError(
      'fleet dlq discard: expected a filter (--connector, --province, --reason, --since, --until), or --all-new to discard every new dead letter',
    );
  await withDatabase(config, async (db) => {
    console.log(
      `discarded ${await discardDeadLetters(db, filter, { actor: cliActor() })} dead letters (kept, marked discarded)`,
    );
  });
}

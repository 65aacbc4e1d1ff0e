import type { Config } from '../../config/env.js';
import { countDeadLetters, discardDeadLetters, findDeadLetter, listDeadLetters, type DeadLetterFilter } from '../../db/queries/dead-letters.js';
import { BackgroundErrorReporter } from '../../workers/background-error-reporter.js';
import { replayDeadLetters } from '../../workers/control-plane/dead-letter-replay.js';
import { createLogger } from '../../workers/logger.js';
import { openIngestQueue } from '../../workers/queue/ingest-queue.js';
import { UsageError } from './cli-errors.js';
import { formatTable, formatTime, withDatabase } from './cli-output.js';

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
  if (Number.isNaN(date.getTime())) throw new UsageError(`fleet dlq: ${option} ${JSON.stringify(value)} is not a time; expected ISO 8601 such as 2026-11-27 or 2026-11-27T08:00:00+07:00`);
  return date;
}

/** Turns command-line options into a filter; bad values are a usage error (exit 2). */
export function deadLetterFilter(options: DeadLetterOptions): DeadLetterFilter {
  const states = ['new', 'replayed', 'discarded', 'all'] as const;
  if (options.state !== undefined && !(states as readonly string[]).includes(options.state)) {
    throw new UsageError(`fleet dlq: --state ${JSON.stringify(options.state)} is not a state; expected one of ${states.join(', ')}`);
  }
  if (options.province !== undefined && !/^\d{2}$/.test(options.province)) throw new UsageError(`fleet dlq: --province ${JSON.stringify(options.province)}: expected a two-digit province code`);
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
export async function dlqList(config: Config, options: DeadLetterOptions & { limit: number }): Promise<void> {
  const filter = deadLetterFilter(options);
  await withDatabase(config, async (db) => {
    const counts = await countDeadLetters(db, filter);
    if (counts.length === 0) {
      console.log('no dead letters match');
      return;
    }
    console.log(counts.map(({ reason, count }) => `${reason}: ${count}`).join('  ·  '));
    const letters = await listDeadLetters(db, filter, { limit: options.limit });
    console.log(
      formatTable(
        ['id', 'received', 'connector', 'province', 'dossier', 'reason', 'state', 'message'],
        letters.map((letter) => [letter.id, formatTime(letter.received_at), letter.connector_id, letter.province_code ?? '-', letter.dossier_code ?? '-', letter.reason, letter.state, letter.message.slice(0, 100)]),
      ),
    );
    const total = counts.reduce((sum, { count }) => sum + count, 0);
    if (total > letters.length) console.log(`… ${total - letters.length} more (use --limit, or narrow with --connector, --reason, --since)`);
  });
}

/** `fleet dlq show ID...`: letters with their raw payload (redacted when kept); an unknown id shows none (exit 2). */
export async function dlqShow(config: Config, ids: readonly string[]): Promise<void> {
  const bad = ids.find((id) => !/^\d+$/.test(id));
  if (bad !== undefined) throw new UsageError(`fleet dlq show: ${JSON.stringify(bad)} is not a dead letter id; expected a number from fleet dlq list`);
  await withDatabase(config, async (db) => {
    const letters = [];
    for (const id of ids) {
      const letter = await findDeadLetter(db, id);
      if (!letter) throw new UsageError(`fleet dlq show: no dead letter ${id}`);
      letters.push(letter);
    }
    for (const [index, letter] of letters.entries()) {
      if (index > 0) console.log('');
      console.log(`id: ${letter.id}\nconnector: ${letter.connector_id}\nprovince: ${letter.province_code ?? '-'}\ndossier: ${letter.dossier_code ?? '-'}`);
      console.log(`reason: ${letter.reason}\nmessage: ${letter.message}\nstate: ${letter.state}\nreceived: ${formatTime(letter.received_at)}`);
      console.log(`raw payload:\n${JSON.stringify(JSON.parse(letter.raw_payload), null, 2)}`);
    }
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
    const ingest = await openIngestQueue(config.REDIS_URL, config.QUEUE_PREFIX, new BackgroundErrorReporter(createLogger(config.LOG_LEVEL)));
    const result = await replayDeadLetters(db, ingest, filter, {
      batchSize: options.batchSize,
      onProgress: (progress) => process.stderr.write(`\rreplaying: ${progress.processed}/${total} (${progress.replayed} stored, ${progress.stillFailing} still failing)   `),
    }).finally(() => ingest.close());
    process.stderr.write('\n');
    console.log(`replayed ${result.processed} dead letters: ${result.replayed} stored and marked replayed, ${result.stillFailing} still failing (kept, with the reason of this attempt)`);
  });
}

/** `fleet dlq discard`: marks the matching letters discarded (kept, not deleted). Needs a filter or --all-new. */
export async function dlqDiscard(config: Config, options: DeadLetterOptions & { allNew?: boolean }): Promise<void> {
  const filter = deadLetterFilter(options);
  const narrowed = filter.connectorId || filter.provinceCode || filter.reason || filter.since || filter.until;
  if (!narrowed && !options.allNew) throw new UsageError('fleet dlq discard: expected a filter (--connector, --province, --reason, --since, --until), or --all-new to discard every new dead letter');
  await withDatabase(config, async (db) => {
    console.log(`discarded ${await discardDeadLetters(db, filter)} dead letters (kept, marked discarded)`);
  });
}

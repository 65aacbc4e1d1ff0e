import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { escapeUnstorable, storablePayload } from '../../connectors/sdk/storable-text.js';
import type { Database } from '../schema.js';

/**
 * A job's data as a queue's failed set held it: an ingest batch, or whatever a producer of another release queued
 * (the writer refused it for that), so every field is read with care.
 */
export type KeptBatch = { readonly [field: string]: unknown };

/** An ingest batch the writer gave up on, as the failed-batch sweep found it in a queue's failed set. */
export interface FailedBatch {
  /** The current province whose queue held it. */
  provinceCode: string;
  batch: KeptBatch;
  /** The writer's last error (BullMQ's failed reason). */
  error: string;
  /** Attempts the job made. */
  attempts: number;
  failedAt: Date;
  /** The queue job: queue name, job id and creation time (ids start again if Redis loses its data). */
  job: string;
}

/** Longest error kept; the rest is cut (an error is a line for an operator, not a dump). */
const maxErrorLength = 2000;

/** A kept batch's list field (records, dead letters) as a list: none when it is not one. */
export const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** An object without one field; anything else as it is. */
function without(value: unknown, field: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const { [field]: _dropped, ...rest } = value as Record<string, unknown>;
  return rest;
}

/**
 * What a batch would store, whatever the moment it was read or received: a poll page read again by the next run
 * (its records observed later) has the same fingerprint, so it finds its row instead of adding one per run.
 */
function fingerprintOf(batch: KeptBatch): string {
  const what = {
    connectorId: batch.connectorId,
    origin: batch.origin,
    cursor: batch.cursor ?? null,
    records: listOf(batch.records).map((record) => without(record, 'observedAt')),
    deadLetters: listOf(batch.deadLetters).map((letter) => without(letter, 'receivedAt')),
  };
  return createHash('sha1')
    .update(JSON.stringify(storablePayload(what)))
    .digest('base64');
}

/**
 * Keeps a failed batch in `failed_batches`, in one statement. The same batch failing again while its row still
 * waits (state `failed`) updates that row — its last error, attempts and time, and one more failure unless it is
 * the very job already kept (a sweep that stopped before removing it from Redis). Returns the row's id and
 * whether this was a failure not counted before (for the metric).
 */
export async function keepFailedBatch(
  db: Kysely<Database>,
  failed: FailedBatch,
): Promise<{ id: string; counted: boolean }> {
  const { batch } = failed;
  const fingerprint = fingerprintOf(batch);
  const origin = batch.origin === 'push' ? 'push' : 'poll';
  const { rows } = await sql<{ id: string; counted: boolean }>`
    WITH previous AS (
      SELECT last_job FROM failed_batches WHERE fingerprint = ${fingerprint} AND state = 'failed'
    ),
    kept AS (
      INSERT INTO failed_batches AS f (province_code, connector_id, origin, batch, records, dead_letters, error, attempts, fingerprint, last_job, failed_at)
      VALUES (
        ${escapeUnstorable(failed.provinceCode)}, ${escapeUnstorable(String(batch.connectorId))}, ${origin},
        ${JSON.stringify(storablePayload(batch))}, ${listOf(batch.records).length}, ${listOf(batch.deadLetters).length},
        ${escapeUnstorable(failed.error).slice(0, maxErrorLength)}, ${failed.attempts}, ${fingerprint}, ${escapeUnstorable(failed.job)}, ${failed.failedAt})
      ON CONFLICT (fingerprint) WHERE state = 'failed' DO UPDATE SET
        failures = f.failures + CASE WHEN f.last_job = excluded.last_job THEN 0 ELSE 1 END,
        batch = excluded.batch,
        error = excluded.error,
        attempts = excluded.attempts,
        last_job = excluded.last_job,
        failed_at = GREATEST(f.failed_at, excluded.failed_at)
      RETURNING id
    )
    SELECT id, NOT EXISTS (SELECT 1 FROM previous WHERE last_job = ${escapeUnstorable(failed.job)}) AS counted FROM kept`.execute(
    db,
  );
  return { id: String(rows[0]!.id), counted: rows[0]!.counted };
}

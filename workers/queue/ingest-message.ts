import { z } from 'zod';
import type { CodeSet } from '../../config/provinces.js';
import type { Cursor } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import type { DeadLetterReason } from '../../connectors/sdk/mapping-error.js';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import type { BackfillProgressMove } from '../../db/queries/backfill-progress.js';
import type { CursorMove } from '../../db/queries/sync-cursors.js';

// What travels on the ingest queues, declared once: a catalogue of the jobs by name, each with the version its
// producers stamp and the schema the writer reads it with (as trigger.dev's redis-worker catalogue does). A
// rolling deploy that changes a batch's shape then fails loudly — the writer refuses the job before any database
// work, and it is kept as a failed batch with the reason — rather than writing what it misreads.
//
// The schema is the envelope, not the content: the fields, none more or fewer (a field added without a new
// version is refused, not dropped), and their types. An optional field added within a version (`backfill`) keeps
// every batch of older producers readable; a writer of an older release refuses only the batches that carry it
// (kept as failed batches, retried once writers of this release run), which is what a new version would do to
// every batch. Whether a value can be stored is the database's to say,
// record by record (write-batch.ts isolates what it refuses), so a bad value never costs the batch's good records.

const text = z.string();
const optionalText = z.string().nullable();
const optionalNumber = z.number().nullable();

/** A number, typed as the national status code: which codes exist is the database's check, record by record. */
const status = z.custom<DossierStatus>((value) => typeof value === 'number', { error: 'expected a number' });
/** Text, typed as a code set: the value is the database's to check. */
const codeSet = z.custom<CodeSet>((value) => typeof value === 'string', { error: 'expected text' });
/** A connector's position: opaque to the framework, and JSON as every job's data is; only its presence is checked. */
const position = z.custom<Cursor>((value) => value !== undefined, { error: 'expected a cursor position' });

const dossierRecord: z.ZodType<DossierRecord> = z.strictObject({
  provinceCode: text,
  dossierCode: text,
  altDossierCode: optionalText,
  sourceProvinceCode: text,
  sourceCodeSet: codeSet,
  procedureCode: optionalText,
  sectorCode: optionalText,
  agencyCode: optionalText,
  channel: optionalNumber,
  applicantType: optionalNumber,
  status,
  sourceStatus: text,
  submittedAt: optionalText,
  receivedAt: optionalText,
  dueAt: optionalText,
  finishedAt: optionalText,
  returnedAt: optionalText,
  rejectedAt: optionalText,
  sourceUpdatedAt: text,
  sourceVersion: z.number(),
  observedAt: text,
  connectorId: text,
});

const deadLetter: z.ZodType<DeadLetter> = z.strictObject({
  connectorId: text,
  provinceCode: text,
  dossierCode: optionalText,
  reason: z.custom<DeadLetterReason>((value) => typeof value === 'string', { error: 'expected text' }),
  message: text,
  rawPayload: z.unknown(),
  receivedAt: text,
});

const cursorMove: z.ZodType<CursorMove> = z.strictObject({ before: position, after: position });

const backfillProgress = z.strictObject({ windowsDone: z.number().int().min(0), position: position.nullable() });
const backfillMove: z.ZodType<BackfillProgressMove> = z.strictObject({
  runId: z.string().regex(/^\d{1,19}$/, { error: 'expected a backfill run id' }),
  before: backfillProgress,
  after: backfillProgress,
});

/** The version of an ingest batch this release produces and reads. */
export const ingestBatchVersion = 1;

const ingestBatchMessage = z.strictObject({
  version: z.literal(ingestBatchVersion),
  /**
   * How its records came: read by a poller, or pushed to the gateway. A pushed batch never moves a cursor; the
   * writer measures the receipt-to-commit latency of pushed records.
   */
  origin: z.enum(['poll', 'push']),
  connectorId: text,
  /** The connector's current (2025) province: the queue it goes in, and the label of its metrics and logs. */
  provinceCode: text,
  records: z.array(dossierRecord),
  deadLetters: z.array(deadLetter),
  /** Present for poll batches: the cursor moves in the same transaction that stores the records. */
  cursor: cursorMove.optional(),
  /**
   * Present for a dead-letter replay's batch: the letters its records were mapped from again, marked replayed in
   * the transaction that stores the records.
   */
  replayedDeadLetters: z.array(z.string().regex(/^\d{1,19}$/, { error: 'expected a dead letter id' })).optional(),
  /**
   * Present for a backfill's batch (origin `poll`: read from the source): the run's progress moves in the same
   * transaction that stores the records; it is queued behind the live batches of its province.
   */
  backfill: backfillMove.optional(),
  /**
   * Present for a reconcile's repair batch (origin `poll`: records re-fetched from the source): the run that found
   * them different. The writer stores them by its usual rules (never backwards, history); the run counts them
   * repaired once their commit is awaited and the stored copy holds the source's state.
   */
  reconcile: z
    .strictObject({ runId: z.string().regex(/^\d{1,19}$/, { error: 'expected a reconcile run id' }) })
    .optional(),
});

/** An ingest batch as it travels on the queue: stamped with its version. */
export type IngestMessage = z.infer<typeof ingestBatchMessage>;

/** One batch for the writer: a page's records and dead letters, and the cursor move they complete. */
export type IngestBatch = Omit<IngestMessage, 'version'>;

/** Every job the ingest queues carry, by job name: the version its producers stamp, and its schema. */
export const ingestJobs = {
  batch: { version: ingestBatchVersion, schema: ingestBatchMessage },
} as const;

/** The name of an ingest job. */
export type IngestJobName = keyof typeof ingestJobs;

/**
 * The job data of a batch: the batch stamped with the current version. A stored batch queued again (`fleet
 * failed-batch retry`) keeps the version it was queued with, so that a batch of another release is never read
 * as one of this release.
 */
export function ingestMessageOf(batch: IngestBatch): IngestMessage {
  return { version: ingestBatchVersion, ...batch };
}

/** A job this writer cannot read: another version, or a shape that does not match its schema. */
export class IngestMessageError extends Error {
  override readonly name = 'IngestMessageError';
}

/** A value named in an error by its kind, and by itself only when it is a short number (a version). */
function describeVersion(value: unknown): string {
  if (value === undefined) return 'no version';
  return typeof value === 'number' && Number.isFinite(value)
    ? `version ${value}`
    : `a version that is not a number (${value === null ? 'null' : typeof value})`;
}

/** One problem zod found: its path and what was expected there (never the value found). */
function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join('.') : '(the job data)';
  if (issue.code !== 'unrecognized_keys') return `${path}: ${issue.message}`;
  const names = issue.keys.slice(0, 3).map((key) => JSON.stringify(key.slice(0, 40)));
  return `${path}: field${issue.keys.length === 1 ? '' : 's'} this version does not have: ${names.join(', ')}${issue.keys.length > names.length ? ', …' : ''}`;
}

/** The first problems zod found. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map(describeIssue);
  return `${shown.join('; ')}${issues.length > shown.length ? `; and ${issues.length - shown.length} more` : ''}`;
}

/**
 * Reads a job taken off an ingest queue, before any database work. A job of a version this release does not
 * read, or whose data does not match its version's schema, throws an `IngestMessageError` naming the version,
 * and the path and expectation of what does not match. A batch without a version was queued before batches
 * carried one: its shape is version 1's.
 */
export function readIngestJob(name: string, data: unknown): IngestMessage {
  const job = (ingestJobs as Record<string, (typeof ingestJobs)[IngestJobName] | undefined>)[name];
  if (!job)
    throw new IngestMessageError(
      `ingest job ${JSON.stringify(name.slice(0, 40))} is not a job this writer reads; expected one of: ${Object.keys(ingestJobs).join(', ')}`,
    );
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new IngestMessageError(
      `ingest job ${name} holds no batch: its data is ${data === null ? 'null' : Array.isArray(data) ? 'an array' : `a ${typeof data}`}, expected an object`,
    );
  }
  const stamped: { version?: unknown } = 'version' in data ? data : { ...data, version: 1 };
  const version = stamped.version;
  if (version !== job.version) {
    throw new IngestMessageError(
      `ingest job ${name} of ${describeVersion(version)}: this writer reads version ${job.version} only (the job was queued by a producer of another release); kept as a failed batch: retry it (fleet failed-batch retry) once writers of its release run`,
    );
  }
  const parsed = job.schema.safeParse(stamped);
  if (!parsed.success)
    throw new IngestMessageError(
      `ingest job ${name} version ${job.version} does not match its schema: ${describeIssues(parsed.error.issues)}`,
    );
  return parsed.data;
}
